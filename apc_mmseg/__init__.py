"""APC (Adaptive Patch Contrast) for MMSegmentation 1.x.

Importing the package registers every component in mmseg's registries and
lets mmengine's full checkpoints load under torch >= 2.6.
"""
from . import datasets, engine, models  # noqa: F401  (registers components)
from .utils import allow_mmengine_checkpoints

__version__ = '0.1.0'

allow_mmengine_checkpoints()
