import numpy as np
import torch
from mmseg.evaluation.metrics import IoUMetric


class IoUAccumulator:
    """Per-class intersection and union over many label maps, by mmseg's rules.

    ``add(pred [H, W], label [H, W])`` counts one image (``ignore_index``
    pixels skipped); ``miou()`` is the mean IoU in percent over the classes
    that occur, as ``IoUMetric`` reports it; ``per_class()`` the IoUs.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.areas = [torch.zeros(num_classes, dtype=torch.float64) for _ in range(4)]

    def add(self, pred, label) -> None:
        areas = IoUMetric.intersect_and_union(torch.as_tensor(pred), torch.as_tensor(label),
                                              self.num_classes, self.ignore_index)
        for acc, a in zip(self.areas, areas):
            acc += a.double()

    def per_class(self) -> np.ndarray:
        return np.asarray(IoUMetric.total_area_to_metrics(*self.areas, metrics=['mIoU'])['IoU'])

    def miou(self) -> float:
        return float(np.nanmean(self.per_class()) * 100)
