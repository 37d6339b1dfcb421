#!/usr/bin/env python
"""Prepare PASCAL VOC 2012 (+SBD) for weak-label training.

Writes ``cls_labels.json`` (from the SegmentationClassAug masks or ToCo's
``cls_labels_onehot.npy``) and ``train_aug.txt`` if missing, and checks the
images and masks. Relative paths are taken from ROOT.

    python tools/dataset_converters/prepare_voc.py data/VOCdevkit/VOC2012
"""
import argparse

from apc_mmseg.datasets.preparation import prepare_voc


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='VOCdevkit/VOC2012')
    parser.add_argument('--mask-dir', default='SegmentationClassAug', help='relative to root')
    parser.add_argument('--toco-labels', help="ToCo's cls_labels_onehot.npy, relative to root")
    parser.add_argument('--out', default='cls_labels.json', help='relative to root')
    parser.add_argument('--nproc', type=int, default=1)
    args = parser.parse_args(argv)
    prepare_voc(args.root, args.mask_dir, args.toco_labels, args.out, args.nproc)


if __name__ == '__main__':
    main()
