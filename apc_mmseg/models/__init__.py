from .backbones import EfficientNetLite
from .heads import AKPHead
from .layers import AdaptiveKPooling, FixedKPooling, GlobalAvgPooling, GlobalMaxPooling
from .losses import PatchContrastLoss, patch_contrast_loss
from .necks import HVBiLSTM
from .segmentors import APCSegmentor

__all__ = ['EfficientNetLite', 'AKPHead', 'AdaptiveKPooling', 'FixedKPooling', 'GlobalAvgPooling',
           'GlobalMaxPooling', 'PatchContrastLoss', 'patch_contrast_loss',
           'HVBiLSTM', 'APCSegmentor']
