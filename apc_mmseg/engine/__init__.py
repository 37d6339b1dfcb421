from .unfreeze_step_lr import UnfreezeStepLR

__all__ = ['UnfreezeStepLR']
