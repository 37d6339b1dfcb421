from contextlib import contextmanager

import torch
from mmengine.device import get_device
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from .nonfinite_guard import NonFiniteGuard


@OPTIM_WRAPPERS.register_module()
class GuardedBF16OptimWrapper(NonFiniteGuard, OptimWrapper):
    """``OptimWrapper`` plus bf16 autocast around the forward pass, with the
    non-finite guard; no loss scaler (bf16 has float32's exponent range), so
    the guard checks the gradients itself. What ``--amp`` gives on GPUs with
    native bf16 (Ampere and later, ``APCRunner``), and on CPU.

    Which parts of APC stay float32 under autocast: docs/method.md.
    """

    cast_dtype = torch.bfloat16

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast(get_device(), dtype=torch.bfloat16):
            yield
