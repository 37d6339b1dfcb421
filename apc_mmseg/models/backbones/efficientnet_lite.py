"""EfficientNet-Lite0 as an mmpretrain ``EfficientNet`` arch.

mmpretrain's EfficientNet builds B0-B8 (squeeze-excitation in every block,
Swish, TensorFlow "same" padding) and EdgeTPU; no arch of it is Lite0, which
is B0 without squeeze-excitation, with ReLU6 and symmetric padding. The
layer table is mmpretrain's own format (kernel, channels, SE ratio, stride,
expand ratio, block type), so this class only adds the table and the
defaults: the blocks, out_indices, frozen stages and init are mmpretrain's.
"""
from mmpretrain.models.backbones import EfficientNet
from mmseg.registry import MODELS

# B0's table with squeeze-excitation off (ratio 0) in every block.
_LITE_LAYERS = [
    [[3, 32, 0, 2, 0, -1]],
    [[3, 16, 0, 1, 1, 0]],
    [[3, 24, 0, 2, 6, 0], [3, 24, 0, 1, 6, 0]],
    [[5, 40, 0, 2, 6, 0], [5, 40, 0, 1, 6, 0]],
    [[3, 80, 0, 2, 6, 0], [3, 80, 0, 1, 6, 0], [3, 80, 0, 1, 6, 0],
     [5, 112, 0, 1, 6, 0], [5, 112, 0, 1, 6, 0], [5, 112, 0, 1, 6, 0]],
    [[5, 192, 0, 2, 6, 0], [5, 192, 0, 1, 6, 0], [5, 192, 0, 1, 6, 0],
     [5, 192, 0, 1, 6, 0], [3, 320, 0, 1, 6, 0]],
    [[1, 1280, 0, 1, 0, -1]],
]


@MODELS.register_module()
class EfficientNetLite(EfficientNet):
    """EfficientNet-Lite0 (4.7 M parameters with its ImageNet classifier).

    Input ``[B, 3, H, W]``; output a tuple of the ``out_indices`` stages'
    maps: 0 stem (32 channels, stride 2), 1 (16, /2), 2 (24, /4), 3 (40,
    /8), 4 (112, /16), 5 (320, /32), 6 the 1x1 head (1280, /32). Stages
    after the last of ``out_indices`` are not built.
    """
    arch_settings = {'lite0': (1.0, 1.0, 224)}  # width, depth, resolution
    layer_settings = {'l': _LITE_LAYERS}

    def __init__(self, arch: str = 'lite0', conv_cfg=None, act_cfg=dict(type='ReLU6'),
                 **kwargs):
        super().__init__(arch=arch, conv_cfg=conv_cfg, act_cfg=act_cfg, **kwargs)
        # Stages after the last output would run for nothing and leave
        # parameters without gradients (DistributedDataParallel refuses them).
        self.layers = self.layers[:max(self.out_indices) + 1]
