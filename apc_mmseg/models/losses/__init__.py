from .patch_contrast_loss import PatchContrastLoss, patch_contrast_loss

__all__ = ['PatchContrastLoss', 'patch_contrast_loss']
