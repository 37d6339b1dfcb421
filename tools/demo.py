#!/usr/bin/env python
"""The README's main job (`make demo`): train APC from image tags on the demo
data on CPU, evaluate it against baselines, draw heat maps and overlays, and
print one table (apc_mmseg.apis.demo)."""
import argparse
import os.path as osp

import apc_mmseg  # noqa: F401  (registers the components)
from apc_mmseg.apis.demo import run_demo

CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs/apc/apc_demo_cpu.py')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--data', default='data/demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, help='training iterations (default: config)')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--workers', type=int, default=2, help='CRF worker processes')
    args = parser.parse_args(argv)
    summary = run_demo(args.config, args.data, args.work_dir, args.iters, args.num_train,
                       args.num_val, args.workers)
    fmt = lambda v: '   -  ' if v is None else f'{v:6.1f}'  # noqa: E731
    print(f"\n{'APC demo (mIoU, %)':38s} {'val':>6s} {'train':>6s}")
    for row in summary['rows']:
        print(f"{row['what']:38s} {fmt(row['val'])} {fmt(row['train'])}")
    print(f"\ntraining {summary['train_seconds'] / 60:.1f} min, whole demo "
          f"{summary['total_seconds'] / 60:.1f} min; pseudo masks "
          f"{summary['pseudo_images_per_s']:.1f} images/s, with CRF "
          f"{summary['pseudo_crf_images_per_s']:.1f} images/s; pictures in {summary['vis_dir']}")


if __name__ == '__main__':
    main()
