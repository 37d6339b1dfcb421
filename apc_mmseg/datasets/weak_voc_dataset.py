from mmseg.datasets import PascalVOCDataset
from mmseg.registry import DATASETS

from .weak_seg_dataset import WeakSegDataset


@DATASETS.register_module()
class WeakVOCDataset(WeakSegDataset):
    """PASCAL VOC 2012 (+SBD) with image-level labels (20 classes + bg).

    Train on ``train_aug`` with ``labels_file`` and no ``seg_map_path``;
    evaluate on ``val`` with ``SegmentationClass`` masks.
    """
    METAINFO = PascalVOCDataset.METAINFO

    def __init__(self, img_suffix='.jpg', seg_map_suffix='.png', **kwargs):
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)
