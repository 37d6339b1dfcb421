from .crf import CRF_DEFAULTS, crf_settings, dense_crf
from .crf_jobs import crf_areas, crf_label_map, read_rgb
from .crf_pool import CRFPool
from .unary import CRF_UNARIES, DEFAULT_UNARY, masked_softmax, masked_sum_normalise, patch_unary

__all__ = ['CRF_DEFAULTS', 'CRF_UNARIES', 'CRFPool', 'DEFAULT_UNARY', 'crf_settings',
           'crf_areas', 'crf_label_map', 'dense_crf', 'masked_softmax',
           'masked_sum_normalise', 'patch_unary', 'read_rgb']
