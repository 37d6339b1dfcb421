from .dropout import UniformMaskDropout
from .pooling import (
                      AdaptiveKPooling,
                      FixedKPooling,
                      GlobalAvgPooling,
                      TopKMeanPooling,
                      build_pooling,
)

__all__ = ['AdaptiveKPooling', 'FixedKPooling', 'GlobalAvgPooling',
           'TopKMeanPooling', 'UniformMaskDropout', 'build_pooling']
