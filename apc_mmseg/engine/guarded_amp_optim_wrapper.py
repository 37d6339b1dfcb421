from mmengine.optim import AmpOptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from .nonfinite_guard import NonFiniteGuard


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(NonFiniteGuard, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` (fp16 autocast, dynamic loss scaler by
    default) with the non-finite guard: the scaler handles inf gradients, the
    guard non-finite losses. What ``--amp`` gives on GPUs without native bf16
    (``APCRunner``); bf16 is ``GuardedBF16OptimWrapper``.
    """

    def __init__(self, *args, dtype='float16', loss_scale='dynamic', **kwargs):
        super().__init__(*args, dtype=dtype, loss_scale=loss_scale, **kwargs)
