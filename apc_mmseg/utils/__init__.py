from .atomic_file import AtomicLocalBackend, use_atomic_local_writes
from .checkpoint import allow_mmengine_checkpoints
from .launch import allow_tf32, finish_distributed
from .malloc import keep_freed_memory

__all__ = ['AtomicLocalBackend', 'allow_tf32', 'allow_mmengine_checkpoints', 'finish_distributed',
           'keep_freed_memory', 'use_atomic_local_writes']
