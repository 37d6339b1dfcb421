from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class LoadImageLevelLabels(BaseTransform):
    """``image_labels`` (foreground indices 1..C) -> multi-hot ``gt_image_labels``.

    Adds ``gt_image_labels``: float32 ``[C+1]``, index 0 (background) always
    1. ``num_classes`` is C + 1; by default the dataset's class count (each
    ``WeakSegDataset`` sample carries it), so pipelines need not repeat it.
    """

    def __init__(self, num_classes: Optional[int] = None):
        self.num_classes = num_classes

    def transform(self, results: dict) -> dict:
        name = results.get('img_path', 'sample')
        if 'image_labels' not in results:
            raise KeyError(f'{name} has no image_labels: give the dataset a labels_file')
        num_classes = self.num_classes or results.get('num_classes')
        if not num_classes:
            raise ValueError(f'{name}: set LoadImageLevelLabels(num_classes=...) or use a '
                             'WeakSegDataset, whose samples carry the class count')
        idx = np.asarray(results['image_labels'], dtype=np.int64)
        if idx.size and (idx.min() < 1 or idx.max() >= num_classes):
            raise ValueError(f'{name}: class index out of range 1..{num_classes - 1}: '
                             f'{idx.tolist()}')
        multi_hot = np.zeros(num_classes, np.float32)
        multi_hot[0] = 1.0
        multi_hot[idx] = 1.0
        results['gt_image_labels'] = multi_hot
        return results

    def __repr__(self):
        return f'{type(self).__name__}(num_classes={self.num_classes})'


@TRANSFORMS.register_module()
class PackWeakSegInputs(PackSegInputs):
    """mmseg's ``PackSegInputs`` that also puts ``gt_image_labels`` on the sample."""

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if 'gt_image_labels' in results:
            packed['data_samples'].gt_image_labels = torch.from_numpy(
                np.asarray(results['gt_image_labels'], np.float32))
        return packed
