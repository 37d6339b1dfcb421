from .atomic_file import AtomicLocalBackend, use_atomic_local_writes
from .checkpoint import allow_mmengine_checkpoints
from .launch import finish_distributed, prepare_distributed

__all__ = ['AtomicLocalBackend', 'allow_mmengine_checkpoints', 'finish_distributed',
           'prepare_distributed',
           'use_atomic_local_writes']
