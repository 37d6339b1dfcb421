"""The jobs a ``CRFPool`` runs, and its workers' loop.

NumPy, OpenCV, Pillow and pydensecrf only: a worker imports this module,
``crf`` and ``utils.image_files`` without the packages' ``__init__`` (no
torch, mmcv or mmseg), so it is ready
in a fraction of a second instead of the seconds that importing the package
takes (measured in BENCHMARKS.md).
"""
import pickle
import struct
import sys
from typing import BinaryIO, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..utils.image_files import read_checked_image
from .crf import dense_crf

ImageOrPath = Union[np.ndarray, str]
_LENGTH = struct.Struct('<Q')


def read_rgb(image: ImageOrPath, size: Optional[Sequence[int]] = None) -> np.ndarray:
    """An RGB uint8 image ``[H, W, 3]``, read from its path where given one (as
    mmseg's ``LoadImageFromFile`` with cv2 reads it); ``size`` its expected
    (H, W). A missing, empty or corrupt file is an error naming it; no pixel
    limit here: the image was checked (with the caller's limit) when it was
    predicted, and must be the prediction's size."""
    if isinstance(image, str):
        path = image
        image = read_checked_image(path, lambda p: cv2.imread(p, cv2.IMREAD_COLOR),
                                   max_pixels=None)
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        if size is not None and tuple(image.shape[:2]) != tuple(size):
            raise ValueError(f'{path}: its size {image.shape[0]}x{image.shape[1]} is not the '
                             f"prediction's {size[0]}x{size[1]}")
    return image


def crf_label_map(image: ImageOrPath, probs: np.ndarray, classes: Sequence[int],
                  cfg: dict) -> np.ndarray:
    """DenseCRF over ``probs [K, H, W]`` of ``classes``: the ``[H, W]`` map of
    class ids, uint8 while they fit (what pseudo masks and label maps need,
    4K times smaller than the probabilities)."""
    q = dense_crf(read_rgb(image, probs.shape[1:]), probs, **cfg)
    ids = np.asarray(classes)
    return ids.astype(np.min_scalar_type(ids.max()))[q.argmax(0)]


def crf_areas(image: ImageOrPath, probs: np.ndarray, classes: Sequence[int],
              mask: np.ndarray, num_classes: int, ignore_index: int,
              cfg: dict) -> Tuple[np.ndarray, ...]:
    """One image of an evaluation: DenseCRF over the given classes, then the
    ``[num_classes]`` pixel counts of mmseg's ``IoUMetric.intersect_and_union``
    (intersection, union, prediction, label; pixels at ``ignore_index`` and
    ids outside ``[0, num_classes)`` not counted). Four short vectors come
    back, not the map."""
    return area_counts(crf_label_map(image, probs, classes, cfg), mask, num_classes,
                       ignore_index)


def area_counts(pred: np.ndarray, label: np.ndarray, num_classes: int,
                ignore_index: int) -> Tuple[np.ndarray, ...]:
    """``[num_classes]`` int64 pixel counts of ``pred`` against ``label`` (both
    ``[H, W]`` ids): intersection, union, prediction, label, as mmseg's
    ``IoUMetric.intersect_and_union`` counts them (ids outside
    ``[0, num_classes)`` not counted)."""
    pred, label = pred.ravel(), label.ravel()
    keep = label != ignore_index
    pred, label = pred[keep], label[keep]

    def count(ids):
        ids = ids[(ids >= 0) & (ids < num_classes)]
        return np.bincount(ids, minlength=num_classes)[:num_classes]

    inter, area_pred, area_label = count(pred[pred == label]), count(pred), count(label)
    return inter, area_pred + area_label - inter, area_pred, area_label


def _read(stream: BinaryIO) -> Optional[bytes]:
    head = stream.read(_LENGTH.size)
    if len(head) < _LENGTH.size:
        return None
    return stream.read(_LENGTH.unpack(head)[0])


def _write(stream: BinaryIO, payload: bytes) -> None:
    stream.write(_LENGTH.pack(len(payload)))
    stream.write(payload)
    stream.flush()


def serve(jobs: BinaryIO = None, results: BinaryIO = None) -> None:
    """A worker's loop: read a pickled ``(fn, args)``, answer a pickled
    ``(True, result)`` or ``(False, exception)``, until the input ends.
    Frames are an 8-byte length and a pickle."""
    jobs = jobs or sys.stdin.buffer
    results = results or sys.stdout.buffer
    while (payload := _read(jobs)) is not None:
        try:
            fn, args = pickle.loads(payload)
            answer = (True, fn(*args))
        except Exception as exc:  # noqa: BLE001  (raised again in the caller)
            answer = (False, exc)
        try:
            reply = pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # noqa: BLE001  (an exception that does not pickle)
            reply = pickle.dumps((False, RuntimeError(f'{answer[1]!r} ({exc})')))
        _write(results, reply)
