from .iou_accumulator import IoUAccumulator
from .wsss_metric import WSSSMetric, average_precision, f1_scores

__all__ = ['IoUAccumulator', 'WSSSMetric', 'average_precision', 'f1_scores']
