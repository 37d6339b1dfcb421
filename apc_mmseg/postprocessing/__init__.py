from .crf import (
                  CRF_DEFAULTS,
                  CRF_UNARIES,
                  DEFAULT_UNARY,
                  check_crf_options,
                  dense_crf,
                  dense_crf_batch,
                  dense_crf_stream,
                  masked_softmax,
                  masked_sum_normalise,
                  patch_unary,
)

__all__ = ['CRF_DEFAULTS', 'CRF_UNARIES', 'DEFAULT_UNARY', 'check_crf_options', 'dense_crf',
           'dense_crf_batch',
           'dense_crf_stream', 'masked_softmax', 'masked_sum_normalise', 'patch_unary']
