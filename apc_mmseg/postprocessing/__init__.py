from .crf import CRF_DEFAULTS, dense_crf, dense_crf_batch, dense_crf_stream, masked_softmax

__all__ = ['CRF_DEFAULTS', 'dense_crf', 'dense_crf_batch', 'dense_crf_stream', 'masked_softmax']
