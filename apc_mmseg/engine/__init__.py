from .batch_image_ids_hook import BATCH_IDS_KEY, BatchImageIdsHook, record_batch_image_ids
from .checkpoint_fit_hook import CheckpointFitHook
from .guarded_optim_wrapper import GuardedAmpOptimWrapper, GuardedOptimWrapper
from .merged_groups_constructor import MergedGroupsOptimWrapperConstructor
from .rankwise_seg_visualization_hook import RankwiseSegVisualizationHook
from .rng_state_hook import RNGStateHook
from .unfreeze_step_lr import UnfreezeStepLR

__all__ = ['BATCH_IDS_KEY', 'BatchImageIdsHook', 'CheckpointFitHook', 'GuardedAmpOptimWrapper',
           'GuardedOptimWrapper', 'MergedGroupsOptimWrapperConstructor',
           'RankwiseSegVisualizationHook', 'RNGStateHook',
           'UnfreezeStepLR', 'record_batch_image_ids']
