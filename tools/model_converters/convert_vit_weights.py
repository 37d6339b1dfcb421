#!/usr/bin/env python
"""Convert a timm or Google ViT checkpoint to mmpretrain's or mmseg's ViT keys.

    python tools/model_converters/convert_vit_weights.py ViT-B_16.npz \
        pretrain/vit-b16-384_in21k-ft-in1k_mmpretrain.pth
"""
import argparse
import os
import os.path as osp

from apc_mmseg.utils.atomic_file import torch_save_atomically
from apc_mmseg.utils.vit_weights import convert, load_source


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('src', help='.pth / .bin / .safetensors (timm) or .npz (Google)')
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--target', choices=['mmpretrain', 'mmseg'], default='mmpretrain',
                        help="the backbone's library (default: mmpretrain, the configs' ViT)")
    args = parser.parse_args(argv)
    try:  # a broken or untrusted file: its name and the problem, not a traceback
        converted = convert(load_source(args.src), args.target, args.src)
    except (ValueError, RuntimeError, FileNotFoundError) as e:
        raise SystemExit(str(e))
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    checkpoint = dict(state_dict=converted, meta=dict(source=osp.basename(args.src),
                                                      target=args.target))
    torch_save_atomically(checkpoint, args.dst)  # whole or not at all
    grid = int(round((converted['pos_embed'].shape[1] - 1) ** 0.5))
    print(f'{len(converted)} tensors for {args.target} '
          f'(position grid {grid}x{grid}) -> {args.dst}')


if __name__ == '__main__':
    main()
