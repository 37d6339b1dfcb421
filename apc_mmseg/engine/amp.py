"""Which guarded optimizer wrapper a config's ``optim_wrapper`` becomes."""
from typing import Optional

import torch


def resolve_amp_dtype(dtype=None) -> str:
    """The autocast dtype of ``--amp``: the one given, else bf16 on a GPU that
    computes it natively (Ampere and later) and fp16 (with a loss scaler) on
    older GPUs, where torch would only emulate bf16, slowly. bf16 on CPU."""
    if dtype not in (None, 'auto'):
        return str(dtype).replace('torch.', '')
    if not torch.cuda.is_available():
        return 'bfloat16'
    return 'bfloat16' if torch.cuda.is_bf16_supported(including_emulation=False) else 'float16'


def guard_optim_wrapper(optim_wrapper: dict, guard: Optional[dict] = None) -> dict:
    """Put the non-finite guard into mmengine's wrapper types, in place.

    Configs name mmengine's ``OptimWrapper`` (so that mmseg's own
    ``tools/train.py --amp`` accepts them, turning it into ``AmpOptimWrapper``
    with ``loss_scale='dynamic'``, and mmengine's ``Runner`` builds them) and
    carry the guard's options (``nonfinite``, ``max_consecutive_skips``) beside
    it, as the top-level ``nonfinite_guard`` (``guard``); options inside
    ``optim_wrapper`` are read too. A config with neither is left alone.
    ``OptimWrapper`` becomes ``GuardedOptimWrapper``;
    ``AmpOptimWrapper`` becomes ``GuardedBF16OptimWrapper`` (autocast, no
    scaler) or ``GuardedAmpOptimWrapper`` (fp16 and the config's scaler), as
    ``resolve_amp_dtype`` decides. Returns ``optim_wrapper``.
    """
    optim_wrapper.update(guard or {})
    if not {'nonfinite', 'max_consecutive_skips'} & set(optim_wrapper):
        return optim_wrapper
    wrapper_type = optim_wrapper.get('type', 'OptimWrapper')
    if wrapper_type == 'OptimWrapper':
        optim_wrapper['type'] = 'GuardedOptimWrapper'
    elif wrapper_type == 'AmpOptimWrapper':
        if resolve_amp_dtype(optim_wrapper.get('dtype')) == 'bfloat16':
            optim_wrapper['type'] = 'GuardedBF16OptimWrapper'
            optim_wrapper.pop('dtype', None)
            optim_wrapper.pop('loss_scale', None)
        else:
            optim_wrapper['type'] = 'GuardedAmpOptimWrapper'
            optim_wrapper['dtype'] = 'float16'
    return optim_wrapper
