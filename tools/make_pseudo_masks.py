#!/usr/bin/env python
"""Pseudo masks from a trained APC checkpoint (the paper's Table 2).

Palette PNGs of the patch classifier's scores restricted to each image's
labels, optionally refined by DenseCRF in worker processes; mIoU when masks
are given. The folder records its settings and files: a rerun with the same
settings resumes, with other ones it refuses (or redoes everything with
--overwrite); a file the record does not list is never reused nor replaced.

    python tools/make_pseudo_masks.py configs/apc/apc_vitb16_voc.py ckpt.pth \\
        --ann-file ImageSets/Segmentation/train_aug.txt --mask-dir SegmentationClassAug \\
        --crf --workers 8 --out-dir data/VOCdevkit/VOC2012/PseudoMasksAPC

On several GPUs (or CPU processes): tools/dist_pseudo_masks.sh CONFIG CKPT GPUS [args].
"""
import argparse
import os

import torch
import torch.distributed as dist
from mmengine.config import Config, DictAction

import apc_mmseg  # noqa: F401  (registers the components)
from apc_mmseg.apis import make_pseudo_masks
from apc_mmseg.postprocessing import CRF_UNARIES, DEFAULT_UNARY
from apc_mmseg.utils import finish_distributed
from apc_mmseg.utils.image_files import DEFAULT_MAX_PIXELS


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--ann-file', help="split list (default: the training set's)")
    parser.add_argument('--mask-dir', help='ground-truth masks (relative to data_root) to '
                        'report mIoU')
    parser.add_argument('--labels-file', help="image-label file (default: the training set's)")
    parser.add_argument('--data-root')
    parser.add_argument('--size', type=int, nargs=2, help='inference size h w (default: config)')
    parser.add_argument('--flip', action='store_true')
    parser.add_argument('--scales', type=float, nargs='+')
    parser.add_argument('--crf', action='store_true', help='refine with DenseCRF')
    parser.add_argument('--crf-unary', choices=sorted(CRF_UNARIES), default=DEFAULT_UNARY,
                        help='patch scores to CRF probabilities: softmax, or divided by '
                        'their sum (ViT-PCM)')
    parser.add_argument('--workers', type=int, default=1, help='CRF worker processes')
    parser.add_argument('--save-scores', action='store_true')
    parser.add_argument('--max-pixels', type=int, default=DEFAULT_MAX_PIXELS,
                        help='refuse a larger image (W x H, read before decoding; memory '
                        'grows ~100 bytes a pixel); 0: no limit (default: %(default)s)')
    parser.add_argument('--overwrite', action='store_true',
                        help='redo every mask, with other settings too; only files the '
                        "folder's pseudo_masks.json lists are replaced")
    parser.add_argument('--device', help='default: cuda:LOCAL_RANK with CUDA, else cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    parser.add_argument('--launcher', choices=['none', 'pytorch'], default='none',
                        help='pytorch: one rank per process of torchrun '
                        '(tools/dist_pseudo_masks.sh), each its share of the images')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    crf = dict(unary=args.crf_unary) if args.crf else False
    device = args.device or 'cpu'
    if args.launcher == 'pytorch':
        cuda = torch.cuda.is_available()
        dist.init_process_group('nccl' if cuda else 'gloo')
        if cuda and not args.device:
            device = f"cuda:{os.environ.get('LOCAL_RANK', 0)}"
            torch.cuda.set_device(device)
    elif torch.cuda.is_available() and not args.device:
        device = 'cuda:0'
    rank = dist.get_rank() if dist.is_initialized() else 0
    try:
        out = make_pseudo_masks(cfg, args.checkpoint, args.out_dir, args.ann_file,
                                args.mask_dir, args.labels_file, args.data_root, args.size,
                                args.flip, args.scales, crf, args.workers, args.save_scores,
                                device, args.overwrite, max_pixels=args.max_pixels or None)
    finally:
        finish_distributed()
    if rank != 0:
        return
    miou = 'n/a (no masks)' if out['miou'] is None else f"{out['miou']:.2f}"
    print(f"{out['images']} pseudo masks in {args.out_dir} ({out['written']} written, "
          f"{out['reused']} reused from an earlier run with the same settings): mIoU {miou}, "
          f"{out['images_per_s']:.2f} images/s")


if __name__ == '__main__':
    main()
