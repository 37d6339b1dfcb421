from .guarded_optim_wrapper import (BATCH_IDS_KEY, GuardedAmpOptimWrapper,
                                    GuardedOptimWrapper)
from .merged_groups_constructor import MergedGroupsOptimWrapperConstructor
from .rng_state_hook import RNGStateHook
from .unfreeze_step_lr import UnfreezeStepLR

__all__ = ['BATCH_IDS_KEY', 'GuardedAmpOptimWrapper', 'GuardedOptimWrapper',
           'MergedGroupsOptimWrapperConstructor', 'RNGStateHook',
           'UnfreezeStepLR']
