from .amp import guard_optim_wrapper, resolve_amp_dtype
from .apc_runner import APCRunner
from .batch_image_ids_hook import BATCH_IDS_KEY, BatchImageIdsHook, record_batch_image_ids
from .checkpoint_as_data_hook import CheckpointAsDataHook
from .guarded_amp_optim_wrapper import GuardedAmpOptimWrapper
from .guarded_bf16_optim_wrapper import GuardedBF16OptimWrapper
from .guarded_optim_wrapper import GuardedOptimWrapper
from .log_vars_to_host_hook import LogVarsToHostHook
from .merged_groups_constructor import MergedGroupsOptimWrapperConstructor
from .nonfinite_guard import NonFiniteGuard
from .rankwise_seg_visualization_hook import RankwiseSegVisualizationHook
from .rng_state_hook import RNGStateHook
from .runner_check_hook import RunnerCheckHook
from .train_precision_val_loop import TrainPrecisionValLoop, training_autocast_dtype
from .unfreeze_step_lr import UnfreezeStepLR

__all__ = ['APCRunner', 'BATCH_IDS_KEY', 'BatchImageIdsHook', 'CheckpointAsDataHook',
           'GuardedAmpOptimWrapper',
           'GuardedBF16OptimWrapper', 'GuardedOptimWrapper', 'LogVarsToHostHook',
           'MergedGroupsOptimWrapperConstructor', 'NonFiniteGuard',
           'RankwiseSegVisualizationHook', 'RNGStateHook', 'RunnerCheckHook',
           'TrainPrecisionValLoop',
           'UnfreezeStepLR',
           'guard_optim_wrapper', 'record_batch_image_ids', 'resolve_amp_dtype',
           'training_autocast_dtype']
