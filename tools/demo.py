#!/usr/bin/env python
"""The README's main job (`make demo`): train APC from image tags on the demo
data on CPU, evaluate it against baselines, draw heat maps and overlays, and
print one table (apc_mmseg.apis.demo). With several --seeds: one run per seed,
each figure as mean ± std with the per-seed values."""
import argparse
import os.path as osp

from mmengine.config import DictAction

import apc_mmseg  # noqa: F401  (registers the components)
from apc_mmseg.apis.demo import run_demo, run_demo_seeds

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs/apc')
KIND_DEFAULTS = dict(  # config, data, work dir
    demo=(osp.join(CONFIGS, 'apc_demo_cpu.py'), 'data/demo', 'work_dirs/demo'),
    hard=(osp.join(CONFIGS, 'apc_demo_hard_cpu.py'), 'data/demo_hard', 'work_dirs/demo_hard'))


def cell(v, width):
    if v is None:
        return f"{'-':>{width}s}"
    if isinstance(v, dict):  # several seeds
        text = f"{v['mean']:.1f} ± {v['std']:.1f} (" + ' '.join(f'{x:.1f}' for x in v['values'])
        return f'{text + ")":>{width}s}'
    return f'{v:{width}.1f}'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--kind', choices=sorted(KIND_DEFAULTS), default='demo',
                        help="the generated set: 'demo' (3 classes) or 'hard' (6 classes, "
                        'smaller objects, textured backgrounds); sets the defaults below')
    parser.add_argument('--config', help='default: configs/apc/apc_demo[_hard]_cpu.py')
    parser.add_argument('--data', help='default: data/demo[_hard]')
    parser.add_argument('--work-dir', help='default: work_dirs/demo[_hard]')
    parser.add_argument('--iters', type=int, help='training iterations (default: config)')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--workers', type=int, default=2, help='CRF worker processes')
    parser.add_argument('--seeds', type=int, nargs='+', default=[0],
                        help='one run per seed (work dirs <work-dir>/seed_<s> when several)')
    parser.add_argument('--from-scratch', action='store_true',
                        help='train the ViT from random weights (default: from the shipped '
                        'checkpoint pretrained on the generated pretraining world)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    defaults = KIND_DEFAULTS[args.kind]
    args.config, args.data, args.work_dir = (
        given or default for given, default in zip((args.config, args.data, args.work_dir),
                                                   defaults))
    common = dict(iters=args.iters, num_train=args.num_train, num_val=args.num_val,
                  workers=args.workers, kind=args.kind, cfg_options=args.cfg_options,
                  from_scratch=args.from_scratch)
    if len(args.seeds) == 1:
        summary = run_demo(args.config, args.data, args.work_dir, seed=args.seeds[0], **common)
        width = 6
    else:
        summary = run_demo_seeds(args.config, args.seeds, args.data, args.work_dir, **common)
        width = 8 + 5 * len(args.seeds) + 8
    seeds = ', '.join(map(str, args.seeds))
    start = 'from scratch' if args.from_scratch else 'pretrained'
    print(f"\n{f'APC {args.kind}, {start} (mIoU, %; seed {seeds})':43s} {'val':>{width}s} "
          f"{'train':>{width}s}")
    for row in summary['rows']:
        print(f"{row['what']:43s} {cell(row['val'], width)} {cell(row['train'], width)}")
    if len(args.seeds) == 1:
        print(f"\ntraining {summary['train_seconds'] / 60:.1f} min, whole demo "
              f"{summary['total_seconds'] / 60:.1f} min; pseudo masks "
              f"{summary['pseudo_images_per_s']:.1f} images/s, with CRF "
              f"{summary['pseudo_crf_images_per_s']:.1f} images/s; pictures in "
              f"{summary['vis_dir']}")
    else:
        print(f'\nper run: {args.work_dir}/seed_<s>/summary.json (per-class IoU included); '
              f'all: {args.work_dir}/seeds_summary.json')


if __name__ == '__main__':
    main()
