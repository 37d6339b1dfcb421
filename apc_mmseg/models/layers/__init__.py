from .adaptive_k_pooling import AdaptiveKPooling
from .dropout import UniformMaskDropout
from .fixed_k_pooling import FixedKPooling
from .global_avg_pooling import GlobalAvgPooling
from .global_max_pooling import GlobalMaxPooling
from .topk_mean_pooling import TopKMeanPooling

__all__ = ['AdaptiveKPooling', 'FixedKPooling', 'GlobalAvgPooling', 'GlobalMaxPooling',
           'TopKMeanPooling', 'UniformMaskDropout']
