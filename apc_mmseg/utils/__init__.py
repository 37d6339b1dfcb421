from .atomic_file import AtomicLocalBackend, use_atomic_local_writes
from .checkpoint import allow_mmengine_checkpoints
from .launch import prepare_distributed

__all__ = ['AtomicLocalBackend', 'allow_mmengine_checkpoints', 'prepare_distributed',
           'use_atomic_local_writes']
