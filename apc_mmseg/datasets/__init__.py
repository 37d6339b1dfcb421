from .data_root import data_root_options
from .tag_pipeline import tag_pipeline
from .transforms import LoadCheckedImageFromFile, LoadImageLevelLabels, PackWeakSegInputs
from .weak_coco_dataset import WeakCOCODataset
from .weak_seg_dataset import WeakSegDataset, read_image_labels, voc_palette
from .weak_voc_dataset import WeakVOCDataset
from .wsss_val_dataset import WSSSValDataset

__all__ = ['LoadCheckedImageFromFile', 'LoadImageLevelLabels', 'PackWeakSegInputs',
           'WeakSegDataset', 'WeakVOCDataset', 'WeakCOCODataset', 'WSSSValDataset',
           'data_root_options', 'read_image_labels', 'tag_pipeline', 'voc_palette']
