import copy
from typing import Optional, Union

import torch
from mmengine.dataset import ConcatDataset
from mmengine.structures import PixelData
from mmseg.registry import DATASETS

from ..utils.sample_keys import TRAIN_MASK_KEY, WSSS_ROLE_KEY
from .tag_pipeline import tag_pipeline


@DATASETS.register_module()
class WSSSValDataset(ConcatDataset):
    """The validation images, then a subset of the training images, for
    ``WSSSMetric`` (pseudo masks are judged on training images, APC Table 2).

    Samples ``[0, len(val))`` are the validation set's, unchanged. The
    training samples get ``metainfo['wsss_role'] = 'train'``; their mask moves
    to ``gt_train_sem_seg`` and their ``gt_sem_seg`` becomes all
    ``ignore_index``, so mmseg's ``IoUMetric`` next to ``WSSSMetric`` counts
    none of their pixels (its val mIoU stays the val set's). ``APCSegmentor``
    gives every sample that carries tags the patch classifier's pseudo mask
    (``pred_pseudo_sem_seg``); ``WSSSMetric`` judges it on these samples.
    With several ranks, mmseg's sampler gives each rank
    its share of both parts.

    Args:
        val (dict | Dataset): The validation set (masks).
        train (dict | Dataset): Training images with image labels
            (``labels_file``, ``LoadImageLevelLabels`` in the pipeline) and
            masks (``seg_map_path``, ``LoadAnnotations``). As a dict it
            takes what it does not name from ``val`` (type, root, classes,
            folders; not ``ann_file``), and ``tag_pipeline()`` when it
            names no pipeline: a config gives only its list and tag file.
        num_train (int, optional): Use the first ``num_train`` of them
            (mmengine's ``indices``). None: all.
        ignore_index (int): The value of the blanked masks. Defaults to 255.
    """

    def __init__(self, val: Union[dict, object], train: Union[dict, object],
                 num_train: Optional[int] = None, ignore_index: int = 255,
                 lazy_init: bool = False):
        self.ignore_index = ignore_index
        if isinstance(train, dict):
            train = self.train_part(val, train, num_train)
        datasets = [DATASETS.build(d) if isinstance(d, dict) else d for d in (val, train)]
        super().__init__(datasets, lazy_init=lazy_init)

    @staticmethod
    def train_part(val, train: dict, num_train: Optional[int]) -> dict:
        """The training part's dataset config: ``val``'s, with ``train``'s
        keys over it."""
        base = {k: v for k, v in val.items() if k not in ('ann_file', 'pipeline', 'indices')} \
            if isinstance(val, dict) else {}
        part = copy.deepcopy(dict(base, pipeline=tag_pipeline(masks=True)))
        part.update(copy.deepcopy(train))
        if num_train is not None:
            part['indices'] = num_train
        return part

    def __getitem__(self, idx: int) -> dict:
        sample = super().__getitem__(idx)
        part, _ = self._get_ori_dataset_idx(idx)
        if part == 1:
            ds = sample['data_samples']
            if 'gt_sem_seg' not in ds or 'gt_image_labels' not in ds:
                raise ValueError(
                    f"{ds.metainfo.get('img_path')}: the training images of WSSSValDataset "
                    'need masks (seg_map_path, LoadAnnotations) and image labels '
                    '(labels_file, LoadImageLevelLabels)')
            ds.set_metainfo({WSSS_ROLE_KEY: 'train'})
            ds.set_data({TRAIN_MASK_KEY: ds.gt_sem_seg})
            ds.gt_sem_seg = PixelData(
                data=torch.full_like(ds.gt_sem_seg.data, self.ignore_index))
        return sample
