from .iou_accumulator import IoUAccumulator

__all__ = ['IoUAccumulator']
