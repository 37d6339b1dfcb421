"""Let torch >= 2.6's ``weights_only`` loader read mmengine's full checkpoints.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``; its checkpoints
hold the message hub (``HistoryBuffer`` objects of numpy arrays) besides the
tensors. Rather than turning the safe loader off, the few types those
checkpoints contain are added to its allow-list.
"""
import numpy as np
import torch


def _mmengine_checkpoint_globals() -> list:
    from mmengine.logging.history_buffer import HistoryBuffer
    types = [HistoryBuffer, np.ndarray, np.dtype, np.core.multiarray._reconstruct
             if hasattr(np, 'core') else None]
    # numpy >= 1.25 pickles dtypes as numpy.dtypes.<Name>DType classes.
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        types += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    types += [np.float64, np.float32, np.int64, np.int32, np.bool_]
    return [t for t in types if t is not None]


def allow_mmengine_checkpoints() -> None:
    """Register the types of mmengine's checkpoints as safe to unpickle."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:
        add(_mmengine_checkpoint_globals())
