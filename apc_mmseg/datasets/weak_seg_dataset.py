import json
import logging
import os.path as osp
from typing import Dict, List, Optional, Sequence

import mmengine
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS


def voc_palette(num_classes: int) -> List[List[int]]:
    """PASCAL VOC's bit-interleaved colour map (distinct for up to 256 ids)."""
    palette = []
    for i in range(num_classes):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette


def read_image_labels(path: str, classes: Sequence[str]) -> Dict[str, List[int]]:
    """Read an image-label file into ``{image id: [foreground class index]}``.

    Formats: JSON ``{id: [class name, ...]}`` (names from ``classes``,
    'background' optional), or ToCo's ``cls_labels_onehot.npy`` (a pickled
    dict ``{id: C-vector without background}``). Indices are 1..C.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image-label file not found: {path}')
    index = {name: i for i, name in enumerate(classes)}
    out = {}
    if path.endswith('.npy'):
        try:
            table = np.load(path, allow_pickle=True).item()
        except Exception as e:  # noqa: BLE001 - say which file is broken
            raise ValueError(f'{path}: not a dict of one-hot vectors ({e})') from e
        for img_id, vec in table.items():
            vec = np.asarray(vec).reshape(-1)
            if vec.shape[0] != len(classes) - 1:
                raise ValueError(
                    f'{path}: label of {img_id!r} has {vec.shape[0]} entries, '
                    f'the class list has {len(classes) - 1} foreground classes')
            out[str(img_id)] = (np.flatnonzero(vec > 0) + 1).tolist()
        return out
    try:
        table = json.load(open(path))
    except json.JSONDecodeError as e:
        raise ValueError(f'{path}: not valid JSON ({e})') from e
    if not isinstance(table, dict):
        raise ValueError(f'{path}: expected a JSON object {{image id: [class names]}}')
    for img_id, names in table.items():
        if not isinstance(names, list):
            raise ValueError(f'{path}: labels of {img_id!r} are not a list')
        unknown = [n for n in names if n not in index]
        if unknown:
            raise ValueError(f'{path}: image {img_id!r} has unknown class(es) '
                             f'{unknown}; known: {list(classes)}')
        out[str(img_id)] = sorted({index[n] for n in names} - {0})
    return out


@DATASETS.register_module()
class WeakSegDataset(BaseSegDataset):
    """Images with image-level labels for training, masks for evaluation.

    Each data info gets ``image_labels``: the foreground class indices (1..C)
    of the image, from ``labels_file`` (see ``read_image_labels``). The
    class list (``metainfo['classes']``) starts with 'background'.

    Args:
        ann_file (str): Split list, one image id per line.
        labels_file (str, optional): Image-label file (relative to
            ``data_root``). Without it, samples carry no image labels (fine
            for evaluating the decode head).
        check_files (bool): Fail at start-up on a missing image or mask.
        Other args as mmseg's ``BaseSegDataset``.
    """

    def __init__(self, ann_file: str, labels_file: Optional[str] = None,
                 check_files: bool = True, **kwargs):
        self.labels_file = labels_file
        self.check_files = check_files
        super().__init__(ann_file=ann_file, **kwargs)

    def _join_prefix(self):
        super()._join_prefix()
        if self.labels_file and self.data_root and not osp.isabs(self.labels_file):
            self.labels_file = osp.join(self.data_root, self.labels_file)

    def load_data_list(self) -> List[dict]:
        classes = self._metainfo.get('classes')
        if not classes or classes[0] != 'background':
            raise ValueError(f"{type(self).__name__}: metainfo classes must start "
                             f"with 'background', got {classes}")
        if not osp.isfile(self.ann_file):
            raise FileNotFoundError(f'split file not found: {self.ann_file}')
        ids = [line.strip() for line in mmengine.list_from_file(self.ann_file)
               if line.strip()]
        if not ids:
            raise ValueError(f'split file {self.ann_file} lists no images')
        labels = read_image_labels(self.labels_file, classes) if self.labels_file else None
        img_dir = self.data_prefix.get('img_path', '')
        ann_dir = self.data_prefix.get('seg_map_path') or None
        data_list = []
        for img_id in ids:
            info = dict(img_path=osp.join(img_dir, img_id + self.img_suffix),
                        label_map=self.label_map, reduce_zero_label=self.reduce_zero_label,
                        seg_fields=[], img_id=img_id, num_classes=len(classes))
            if ann_dir is not None:
                info['seg_map_path'] = osp.join(ann_dir, img_id + self.seg_map_suffix)
            if labels is not None:
                if img_id not in labels:
                    raise KeyError(f'{self.labels_file} has no labels for image '
                                   f'{img_id!r} of split {self.ann_file}')
                info['image_labels'] = labels[img_id]
            if self.check_files:
                for key in ('img_path', 'seg_map_path'):
                    if key in info and not osp.isfile(info[key]):
                        raise FileNotFoundError(
                            f'{info[key]} (image {img_id!r} of {self.ann_file}) is missing')
            data_list.append(info)
        self._log_background_only(data_list)
        return data_list

    def _log_background_only(self, data_list: List[dict]) -> None:
        """Images tagged with no object train as pure background: say so."""
        empty = [d['img_id'] for d in data_list if d.get('image_labels') == []]
        if empty:
            print_log(f'{self.labels_file}: {len(empty)} of {len(data_list)} images of '
                      f'{self.ann_file} have no foreground label and train as background '
                      f'only (e.g. {empty[:3]})', logger='current', level=logging.WARNING)
