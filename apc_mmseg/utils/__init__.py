from .checkpoint import allow_mmengine_checkpoints
from .launch import prepare_distributed

__all__ = ['allow_mmengine_checkpoints', 'prepare_distributed']
