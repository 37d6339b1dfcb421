#!/usr/bin/env python
"""Which mmcv build this environment needs, for the Makefile's wheel cache.

Prints a tag such as ``torch2.14.1-cu128-sm80_86-py311`` or
``torch2.14.1-cpu-py311``: the torch release the wheel is compiled against,
whether it has CUDA ops and for which GPU architectures, and the Python it is
for. The Makefile keeps each wheel under its tag, so a CPU build is never
installed where CUDA ops are wanted (or a build for another torch, Python or
GPU). The target comes from ``FORCE_CUDA``: ``1`` CUDA (torch must be a CUDA
build), ``0`` or unset CPU. CPU ops are the default even on a GPU host: no
model of ``configs/apc/`` calls an mmcv op (a test records ``mmcv._ext``
calls), and CUDA ops need an ``nvcc`` matching torch's CUDA, which torch's
wheels do not bring. The architectures come
from ``TORCH_CUDA_ARCH_LIST``, else the visible GPUs, else (a build node
without a GPU, where torch itself would fail) a default list for torch's CUDA
version (``--arch-list`` prints what the build gets).

    python tools/misc/mmcv_build_tag.py                  # the tag
    python tools/misc/mmcv_build_tag.py --arch-list      # TORCH_CUDA_ARCH_LIST
    python tools/misc/mmcv_build_tag.py --check-installed  # exit 1 unless the
                                                         # installed mmcv fits it
    python tools/misc/mmcv_build_tag.py --check-torch cu126  # exit 2 unless torch
                                                         # is that variant

Runs with torch alone (mmcv may be missing or broken).
"""
import argparse
import os
import sys

# torch is imported inside the functions that read the installed one: the tag
# arithmetic (--assume, and its tests) runs without its seconds-long import.
PY_TAG = f'py{sys.version_info.major}{sys.version_info.minor}'


def default_arch_list(torch_cuda: str) -> str:
    """Every architecture that torch's CUDA version compiles for and that
    mmseg users train on (Volta to Blackwell; CUDA 13 dropped Volta), with PTX
    for newer cards."""
    version = tuple(int(x) for x in torch_cuda.split('.')[:2])
    if version >= (13, 0):
        archs = '7.5;8.0;8.6;8.9;9.0;10.0;12.0'
    elif version >= (12, 8):
        archs = '7.0;7.5;8.0;8.6;8.9;9.0;10.0;12.0'
    elif version >= (11, 8):
        archs = '7.0;7.5;8.0;8.6;8.9;9.0'
    else:
        archs = '7.0;7.5;8.0;8.6'
    return archs + '+PTX'


def want_cuda(torch_version: str, torch_cuda, force_cuda: str) -> bool:
    """CUDA ops only when asked for (``FORCE_CUDA=1``), whether or not a GPU
    is visible."""
    if force_cuda not in ('', '0', '1'):
        raise ValueError(f'FORCE_CUDA must be 0, 1 or unset, got {force_cuda!r}')
    wanted = force_cuda == '1'
    if wanted and not torch_cuda:
        raise ValueError(f'FORCE_CUDA=1 but torch {torch_version} is a CPU build: install '
                         'the CUDA build of torch first')
    return wanted


def arch_list(torch_cuda: str, visible_archs=None) -> str:
    """``TORCH_CUDA_ARCH_LIST`` if set, else the visible GPUs' (``['8.0']``),
    else the default list."""
    given = os.environ.get('TORCH_CUDA_ARCH_LIST', '').strip()
    if given:
        return given
    if visible_archs:
        return ';'.join(sorted(set(visible_archs)))
    return default_arch_list(torch_cuda)


def build_tag(torch_version: str, torch_cuda, force_cuda: str, visible_archs=None) -> str:
    """The tag for a torch release, its CUDA version (None for a CPU build),
    ``FORCE_CUDA`` ('' when unset) and the visible GPUs' architectures (None:
    none visible, or unknown)."""
    base = 'torch' + torch_version.split('+')[0]
    if not want_cuda(torch_version, torch_cuda, force_cuda):
        return f'{base}-cpu-{PY_TAG}'
    archs = arch_list(torch_cuda, visible_archs)
    sm = '_'.join(a.replace('.', '').replace('+PTX', 'ptx')
                  for a in archs.replace(' ', ';').split(';') if a)
    return f"{base}-cu{torch_cuda.replace('.', '')}-sm{sm}-{PY_TAG}"


def visible_archs():
    import torch
    if not torch.cuda.is_available():
        return None
    return ['{}.{}'.format(*torch.cuda.get_device_capability(i))
            for i in range(torch.cuda.device_count())]


def current_tag() -> str:
    import torch
    return build_tag(torch.__version__, torch.version.cuda, os.environ.get('FORCE_CUDA', ''),
                     visible_archs())


def current_arch_list() -> str:
    """What the mmcv build gets as ``TORCH_CUDA_ARCH_LIST`` ('' for CPU ops)."""
    import torch
    if not want_cuda(torch.__version__, torch.version.cuda, os.environ.get('FORCE_CUDA', '')):
        return ''
    return arch_list(torch.version.cuda, visible_archs())


def torch_variant_mismatch(variant: str):
    """Why the installed torch is not the ``TORCH_CUDA`` variant asked for
    (``cu126``, ``cpu``; '' accepts any), or None."""
    import torch
    have = 'cu' + torch.version.cuda.replace('.', '') if torch.version.cuda else 'cpu'
    if variant in ('', have):
        return None
    return (f'torch {torch.__version__} ({have}) is installed but TORCH_CUDA={variant} '
            'asks for another build: pip keeps an installed release whatever its variant, '
            'so start from a new environment (make clean-venv; make install '
            f'TORCH_CUDA={variant})')


def installed_mismatch(tag: str, allow_missing_deps: bool = False):
    """Why the installed mmcv does not fit ``tag``, or None when it does.

    ``allow_missing_deps``: mmcv is installed but a pure-Python package it
    imports (opencv, mmengine, ...) is not yet: no verdict now (None); the
    Makefile checks again once requirements.txt is installed.
    """
    try:  # here: whether mmcv is installed (and its ops) is the question
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
    if has_cuda != ('-cpu-' not in tag):
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
    parser.add_argument('--assume', nargs=2, metavar=('TORCH', 'CUDA'),
                        help="the tag for this torch version and its CUDA version ('none': "
                        "a CPU build) instead of this machine's (no GPU visible)")
    parser.add_argument('--arch-list', action='store_true',
                        help="print the build's TORCH_CUDA_ARCH_LIST ('' for CPU ops)")
    parser.add_argument('--check-torch', metavar='VARIANT',
                        help="exit 2 unless torch is this build ('cu126', 'cpu'; '' any)")
    args = parser.parse_args(argv)
    try:
        if args.check_torch is not None:
            why = torch_variant_mismatch(args.check_torch)
            if why:
                raise ValueError(why)
            return 0
        if args.arch_list:
            print(current_arch_list())
            return 0
        if args.assume:
            version, cuda = args.assume
            tag = build_tag(version, None if cuda == 'none' else cuda,
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
