import json
import logging
import os.path as osp
import pickle
from typing import Dict, List, Optional, Sequence

import mmengine
import numpy as np
from mmengine.logging import print_log
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from ..utils.image_files import DEFAULT_MAX_PIXELS, check_image_file

# How a config (or the pseudo-mask tool, which builds this dataset) raises the
# pixel limit: the error says so.
MAX_PIXELS_OPTION = ("the dataset's max_pixels (e.g. --cfg-options "
                     'test_dataloader.dataset.max_pixels=N, or train_dataloader; None: no '
                     'limit; tools/make_pseudo_masks.py: --max-pixels N)')


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


# What a tag .npy's pickle may name: numpy's array and dtype reconstruction
# (numpy 1's and 2's module names). Anything else (a callable that would run
# on loading) is refused.
_NPY_GLOBALS = {(module, name) for module in ('numpy.core.multiarray', 'numpy._core.multiarray')
                for name in ('_reconstruct', 'scalar')} | {('numpy', 'ndarray'),
                                                           ('numpy', 'dtype')}


class _ReconstructedArray(np.ndarray):
    """``numpy.ndarray`` as a tag file's pickle may use it: the type that
    numpy's ``_reconstruct`` builds (which calls no ``__new__``). Called
    directly, ``ndarray(shape, object dtype, buffer)`` would read object
    pointers from the file's bytes, so that is refused."""

    def __new__(cls, *args, **kwargs):
        raise pickle.UnpicklingError('it calls numpy.ndarray on raw bytes (object pointers '
                                     'from the file); a tag file holds only arrays')


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays only."""

    def find_class(self, module, name):
        if (module, name) not in _NPY_GLOBALS:
            raise pickle.UnpicklingError(f'it names {module}.{name}, which could run code on '
                                         'loading; a tag file holds only arrays')
        if (module, name) == ('numpy', 'ndarray'):
            return _ReconstructedArray
        return super().find_class(module, name)


def read_npy_without_code(path: str):
    """The object a ``.npy`` file holds, read without running code: plain
    arrays load as numpy does; an object array (a pickled dict, as ToCo's
    ``cls_labels_onehot.npy``) is unpickled with arrays and builtins only."""
    with open(path, 'rb') as f:
        version = np.lib.format.read_magic(f)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape, _, dtype = read_header(f)
        if not dtype.hasobject:
            f.seek(0)
            return np.load(f, allow_pickle=False)
        array = _ArraysOnlyUnpickler(f).load()
    if not isinstance(array, np.ndarray) or array.shape != shape:
        raise ValueError(f'expected an object array of shape {shape}')
    return array.view(np.ndarray)


def read_image_labels(path: str, classes: Sequence[str]) -> Dict[str, List[int]]:
    """Read an image-label file into ``{image id: [foreground class index]}``.

    Formats: JSON ``{id: [class name, ...]}`` (names from ``classes``,
    'background' optional), or ToCo's ``cls_labels_onehot.npy`` (a pickled
    dict ``{id: C-vector without background}``, read without running code:
    ``read_npy_without_code``). Indices are 1..C.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image-label file not found: {path}')
    index = {name: i for i, name in enumerate(classes)}
    out = {}
    if path.endswith('.npy'):
        try:
            table = read_npy_without_code(path).item()
        except Exception as e:  # noqa: BLE001 - say which file is broken
            raise ValueError(f'{path}: not a dict of one-hot vectors ({e})') from e
        if not isinstance(table, dict):
            raise ValueError(f'{path}: not a dict of one-hot vectors (a {type(table).__name__})')
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
        max_pixels (int, optional): Most pixels (W x H) of an image or mask,
            read from the file's header before the pipeline decodes it (a
            large image exhausts memory at inference). Defaults to
            ``DEFAULT_MAX_PIXELS`` (50 MP); None: no limit.
        Other args as mmseg's ``BaseSegDataset``.
    """

    def __init__(self, ann_file: str, labels_file: Optional[str] = None,
                 check_files: bool = True, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                 **kwargs):
        self.labels_file = labels_file
        self.check_files = check_files
        self.max_pixels = max_pixels
        super().__init__(ann_file=ann_file, **kwargs)

    def prepare_data(self, idx: int):
        """The pipeline's sample ``idx``, once its image and mask pass
        ``check_image_file``: an empty, non-image or too large file is an
        error naming it, before any decoding (the test pipelines keep mmcv's
        ``LoadImageFromFile``, which ``MMSegInferencer`` looks for by name,
        so the check is made here for every pipeline)."""
        info = self.get_data_info(idx)
        for key in ('img_path', 'seg_map_path'):
            if info.get(key):
                check_image_file(info[key], self.max_pixels, MAX_PIXELS_OPTION)
        return super().prepare_data(idx)

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
