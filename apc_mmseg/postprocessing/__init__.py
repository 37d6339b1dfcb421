from .crf import CRF_DEFAULTS, dense_crf, dense_crf_batch

__all__ = ['CRF_DEFAULTS', 'dense_crf', 'dense_crf_batch']
