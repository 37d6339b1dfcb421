from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from .nonfinite_guard import NonFiniteGuard


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(NonFiniteGuard, OptimWrapper):
    """mmengine's ``OptimWrapper`` with the non-finite guard (float32).

    Args:
        nonfinite (str): ``'skip'`` a step with a NaN/inf loss or gradient,
            or ``'stop'`` the run. Defaults to ``'skip'``.
        max_consecutive_skips (int): Skipped steps in a row that end the run.
        Other args as ``OptimWrapper``.
    """
