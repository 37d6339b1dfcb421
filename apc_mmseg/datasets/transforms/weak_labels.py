from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform, LoadImageFromFile
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
        seg = results.get('gt_seg_map')
        if seg is not None and seg.shape[:2] != results['img'].shape[:2]:
            raise ValueError(f"{results.get('seg_map_path')}: mask of size {seg.shape[:2]} "
                             f"for image {results.get('img_path')} of size "
                             f"{results['img'].shape[:2]}")
        packed = super().transform(results)
        if 'gt_image_labels' in results:
            packed['data_samples'].gt_image_labels = torch.from_numpy(
                np.asarray(results['gt_image_labels'], np.float32))
        return packed


@TRANSFORMS.register_module()
class LoadCheckedImageFromFile(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that refuses truncated JPEG/PNG files.

    OpenCV decodes a truncated JPEG into an image with a grey tail and only
    prints a warning; training would silently see garbage. The file's end
    marker is checked first (JPEG: ``FF D9`` in the last bytes, PNG: ``IEND``), and
    an unreadable file is an error naming it. Grayscale and RGBA files load
    as 3-channel colour images (``color_type='color'``), as in mmcv.
    """

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        with open(path, 'rb') as f:
            head = f.read(8)
            f.seek(max(0, f.seek(0, 2) - 12))
            tail = f.read()
        if head[:2] == b'\xff\xd8' and b'\xff\xd9' not in tail:
            raise ValueError(f'{path}: truncated JPEG (no end-of-image marker)')
        if head[:8] == b'\x89PNG\r\n\x1a\n' and b'IEND' not in tail:
            raise ValueError(f'{path}: truncated PNG (no IEND chunk)')
        try:
            results = super().transform(results)
        except Exception as e:  # noqa: BLE001 - name the file whatever failed
            raise ValueError(f'{path}: cannot be read as an image ({e})') from e
        if results is None or results.get('img') is None:
            raise ValueError(f'{path}: cannot be read as an image')
        return results
