#!/usr/bin/env python
"""The leak probe: foreground/background IoU that 2-means on frozen backbone
features reaches on the test images of each generated set (apc_lab.leak_probe),
for random and pretrained weights of the demo ViT and of EfficientNet-Lite0.

    python tools/analysis_tools/leak_probe.py --into docs/pretrained_demo.md:leak_probe
"""
import argparse
import os.path as osp
import sys

import apc_mmseg  # noqa: F401  (registers the components)
from apc_lab.demo_data import ensure_generated, generation_record
from apc_lab.figures import REPO, fingerprint, write_figures
from apc_lab.leak_probe import probe
from apc_lab.numerics import fix_numerics

VIT = 'configs/apc/apc_demo_cpu.py'
LITE0 = 'configs/apc/apc_efficientnet-lite0_photo_cpu.py'
BACKBONES = (('demo ViT, random weights', VIT, False),
             ('demo ViT, pretrained on the world\'s tags', VIT, True),
             ('EfficientNet-Lite0, random weights', LITE0, False),
             ('EfficientNet-Lite0, ImageNet-1k labels', LITE0, True))
SETS = ('demo', 'hard', 'photo')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data-root', default='data', help='sets in <root>/probe_<set>')
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--into', metavar='PAGE:NAME', help='write the table into a page')
    args = parser.parse_args(argv)
    fix_numerics()
    records = []
    for name in SETS:
        folder = osp.join(args.data_root, f'probe_{name}')
        ensure_generated(folder, 200, 50, 0, name, args.num_test)
        records.append(generation_record(200, 50, 0, name, args.num_test))
    lines = ['| backbone (frozen) | ' + ' | '.join(f'{s} set' for s in SETS) + ' |',
             '|---|' + '---|' * len(SETS)]
    for label, config, pretrained in BACKBONES:
        cells = []
        for name in SETS:
            folder = osp.join(args.data_root, f'probe_{name}')
            ids = open(osp.join(folder, 'ImageSets/Segmentation/test.txt')).read().split()
            result = probe(osp.join(REPO, config),
                           [osp.join(folder, 'JPEGImages', i + '.jpg') for i in ids],
                           [osp.join(folder, 'SegmentationClass', i + '.png') for i in ids],
                           checkpoint_init=pretrained)
            cells.append(f"{result['mean']:.1f} ± {result['sem']:.1f}")
        lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    table = '\n'.join(lines)
    print(table)
    if args.into:
        page, block = args.into.split(':')
        checkpoints = [osp.relpath(osp.realpath(p), REPO) for p in (
            osp.join(REPO, 'apc_lab/pretrained/demo_vit_tags.pth'),
            osp.join(REPO, 'pretrain/efficientnet-lite0_in1k_mmpretrain.pth'))]
        parts = fingerprint({VIT: {}, LITE0: {}}, checkpoints, records)
        command = 'python tools/analysis_tools/leak_probe.py ' + ' '.join(
            argv if argv is not None else sys.argv[1:])
        print(f'written into {page}: fingerprint '
              f'{write_figures(page, block, table, command, parts)}')


if __name__ == '__main__':
    main()
