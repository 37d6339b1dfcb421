"""APC (Adaptive Patch Contrast) for MMSegmentation 1.x.

Importing the package registers every component in mmseg's registries, lets
mmengine's full checkpoints load under torch >= 2.6, and makes mmengine's
local file writes (checkpoints) atomic.
"""
from . import datasets, engine, evaluation, models  # noqa: F401  (registers components)
from .utils import allow_mmengine_checkpoints, use_atomic_local_writes

__version__ = '0.1.0'

allow_mmengine_checkpoints()
use_atomic_local_writes()
