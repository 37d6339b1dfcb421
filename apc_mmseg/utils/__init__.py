from .atomic_file import AtomicLocalBackend, use_atomic_local_writes
from .checkpoint import allow_mmengine_checkpoints
from .launch import (
                     allow_tf32,
                     finish_distributed,
                     launcher_world_size,
                     prepare_distributed,
                     split_global_batch,
)
from .malloc import keep_freed_memory

__all__ = ['AtomicLocalBackend', 'allow_tf32', 'allow_mmengine_checkpoints', 'finish_distributed',
           'keep_freed_memory', 'launcher_world_size', 'prepare_distributed',
           'split_global_batch', 'use_atomic_local_writes']
