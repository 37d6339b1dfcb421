#!/usr/bin/env python
"""Pretrain the demo's small ViT on the generated pretraining world (24 image
classes that share no shape, texture or colour with the demo sets) and write
the checkpoint the demo configs load (apc_lab.pretrain). Prints the
held-out accuracy and the file's SHA-256."""
import argparse
import json

import apc_mmseg  # noqa: F401  (registers the components)
from apc_lab.pretrain import DEMO_CHECKPOINT, pretrain_backbone


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/apc/apc_demo_cpu.py',
                        help="the config whose backbone is pretrained")
    parser.add_argument('--out', default=DEMO_CHECKPOINT, help='checkpoint to write')
    parser.add_argument('--iters', type=int, default=1500)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-images', type=int, default=4800)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--objective', choices=['patch', 'image'], default='patch',
                        help="'patch': each patch token classifies what lies under it "
                        "(default); 'image': image classification, as ImageNet")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    report = pretrain_backbone(args.config, args.out, args.iters, args.batch_size,
                               args.num_images, args.lr, args.seed, args.objective)
    print(json.dumps(report, indent=1))
    what = 'patches' if args.objective == 'patch' else 'images'
    print(f"{args.out}: held-out accuracy {100 * report['held_out_accuracy']:.1f} % of {what}, "
          f"{len(report['classes'])} classes, {report['seconds'] / 60:.1f} min, "
          f"SHA-256 {report['sha256']}")


if __name__ == '__main__':
    main()
