from .heads import AKPHead
from .layers import AdaptiveKPooling, FixedKPooling, GlobalAvgPooling, build_pooling
from .losses import PatchContrastLoss, patch_contrast_loss
from .necks import HVBiLSTM
from .segmentors import APCSegmentor

__all__ = ['AKPHead', 'AdaptiveKPooling', 'FixedKPooling', 'GlobalAvgPooling',
           'build_pooling', 'PatchContrastLoss', 'patch_contrast_loss',
           'HVBiLSTM', 'APCSegmentor']
