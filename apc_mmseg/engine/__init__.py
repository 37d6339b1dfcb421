from .rng_state_hook import RNGStateHook
from .unfreeze_step_lr import UnfreezeStepLR

__all__ = ['RNGStateHook', 'UnfreezeStepLR']
