from .crf_iou_metric import CRFIoUMetric, crf_workers
from .iou_accumulator import IoUAccumulator
from .wsss_metric import WSSSMetric, average_precision, f1_scores

__all__ = ['CRFIoUMetric', 'IoUAccumulator', 'WSSSMetric', 'average_precision', 'crf_workers',
           'f1_scores']
