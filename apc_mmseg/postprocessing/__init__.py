from .crf import (
    CRF_DEFAULTS,
    CRF_UNARIES,
    DEFAULT_UNARY,
    check_crf_options,
    dense_crf,
    masked_softmax,
    masked_sum_normalise,
    patch_unary,
)
from .crf_pool import CRFPool, crf_label_map, crf_probs, read_rgb

__all__ = ['CRF_DEFAULTS', 'CRF_UNARIES', 'CRFPool', 'DEFAULT_UNARY', 'check_crf_options',
           'crf_label_map', 'crf_probs', 'dense_crf', 'masked_softmax', 'masked_sum_normalise',
           'patch_unary', 'read_rgb']
