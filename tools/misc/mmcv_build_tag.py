#!/usr/bin/env python
"""Which mmcv build this environment needs, for the Makefile's wheel cache.

Prints a tag such as ``torch2.14.1-cu128`` or ``torch2.14.1-cpu``: the torch
release the wheel is compiled against and whether it has CUDA ops. The
Makefile keeps each wheel under its tag, so a CPU build is never installed
where CUDA ops are wanted (or a build for another torch). The target comes
from ``FORCE_CUDA``: ``1`` CUDA (torch must be a CUDA build), ``0`` CPU, unset
CUDA when torch sees a GPU.

    python tools/misc/mmcv_build_tag.py                  # the tag
    python tools/misc/mmcv_build_tag.py --check-installed  # exit 1 unless the
                                                         # installed mmcv fits it

Runs with torch alone (mmcv may be missing or broken).
"""
import argparse
import os
import sys


def build_tag(torch_version: str, torch_cuda, cuda_visible: bool, force_cuda: str) -> str:
    """The tag for a torch release, its CUDA version (None for a CPU build),
    whether a GPU is visible, and ``FORCE_CUDA`` ('' when unset)."""
    base = 'torch' + torch_version.split('+')[0]
    if force_cuda not in ('', '0', '1'):
        raise ValueError(f'FORCE_CUDA must be 0, 1 or unset, got {force_cuda!r}')
    want_cuda = force_cuda == '1' or (force_cuda == '' and cuda_visible)
    if not want_cuda:
        return base + '-cpu'
    if not torch_cuda:
        raise ValueError(f'FORCE_CUDA=1 but torch {torch_version} is a CPU build: install '
                         'the CUDA build of torch first')
    return base + '-cu' + torch_cuda.replace('.', '')


def current_tag() -> str:
    import torch
    return build_tag(torch.__version__, torch.version.cuda, torch.cuda.is_available(),
                     os.environ.get('FORCE_CUDA', ''))


def installed_mismatch(tag: str, allow_missing_deps: bool = False):
    """Why the installed mmcv does not fit ``tag``, or None when it does.

    ``allow_missing_deps``: mmcv is installed but a pure-Python package it
    imports (opencv, mmengine, ...) is not yet: no verdict now (None); the
    Makefile checks again once requirements.txt is installed.
    """
    try:
        import mmcv
        from mmcv.ops import get_compiling_cuda_version
    except ModuleNotFoundError as e:
        if allow_missing_deps and e.name and e.name.split('.')[0] != 'mmcv':
            print(f'mmcv_build_tag: {e.name} (an mmcv dependency) is not installed yet; '
                  'mmcv is checked after requirements.txt', file=sys.stderr)
            return None
        return f'mmcv with ops cannot be imported ({type(e).__name__}: {e})'
    except Exception as e:  # noqa: BLE001 - built for another torch, or broken
        return f'mmcv with ops cannot be imported ({type(e).__name__}: {e})'
    wanted = os.environ.get('MMCV_VERSION', '2.1.0')
    if mmcv.__version__ != wanted:
        return f'mmcv {mmcv.__version__} is installed, {wanted} is wanted'
    compiled = get_compiling_cuda_version()
    has_cuda = compiled not in ('not available', '', None)
    if has_cuda != (not tag.endswith('-cpu')):
        return (f'installed mmcv ops are built for '
                f"{'CUDA ' + compiled if has_cuda else 'CPU only'}, {tag} is wanted")
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--check-installed', action='store_true',
                        help='exit 1 (saying why) unless the installed mmcv fits the tag')
    parser.add_argument('--allow-missing-deps', action='store_true',
                        help="with --check-installed: no verdict while mmcv's own "
                        'dependencies are missing')
    parser.add_argument('--assume', nargs=3, metavar=('TORCH', 'CUDA', 'GPU'),
                        help="the tag for this torch version, its CUDA version ('none': "
                        'a CPU build) and whether a GPU is visible (0/1), instead of '
                        "this machine's")
    args = parser.parse_args(argv)
    try:
        if args.assume:
            version, cuda, gpu = args.assume
            tag = build_tag(version, None if cuda == 'none' else cuda, gpu == '1',
                            os.environ.get('FORCE_CUDA', ''))
        else:
            tag = current_tag()
    except ValueError as e:
        print(f'mmcv_build_tag: {e}', file=sys.stderr)
        return 2
    if not args.check_installed:
        print(tag)
        return 0
    why = installed_mismatch(tag, args.allow_missing_deps)
    if why:
        print(f'mmcv_build_tag: {why}; building mmcv', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
