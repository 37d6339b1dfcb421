#!/usr/bin/env python
"""Prepare COCO 2014 for weak-label training and evaluation.

Writes label PNGs (ids 0..80, 255 ignore), ``cls_labels.json`` and the split
lists under ROOT, in parallel, resuming where an earlier run stopped.

    python tools/dataset_converters/prepare_coco.py data/coco2014 --nproc 8
"""
import argparse

from apc_mmseg.datasets.preparation import prepare_coco


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='COCO 2014 root (train2014/, val2014/, annotations/)')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    parser.add_argument('--nproc', type=int, default=1)
    args = parser.parse_args(argv)
    prepare_coco(args.root, args.splits, args.nproc)


if __name__ == '__main__':
    main()
