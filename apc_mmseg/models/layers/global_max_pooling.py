from mmseg.registry import MODELS

from .fixed_k_pooling import FixedKPooling


@MODELS.register_module()
class GlobalMaxPooling(FixedKPooling):
    """The highest score per map (K = 1): ``[B, C, H, W] -> [B, C]``."""

    def __init__(self):
        super().__init__(k=1)
