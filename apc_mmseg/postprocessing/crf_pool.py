"""The one pool that runs DenseCRF jobs: CRFIoUMetric, the pseudo masks and
the segmentor's ``test_cfg.crf`` submit to it."""
from collections import deque
from multiprocessing import get_context
from typing import Any, Callable, Iterable, Iterator, List, Optional, Sequence, Union

import mmcv
import numpy as np
import torch

from .crf import dense_crf

ImageOrPath = Union[np.ndarray, str]


def read_rgb(image: ImageOrPath, size: Optional[Sequence[int]] = None) -> np.ndarray:
    """An RGB uint8 image, read from its path where given one (in the worker:
    a path is cheaper to send than the pixels); ``size`` its expected (H, W)."""
    if isinstance(image, str):
        path, image = image, mmcv.imread(image, channel_order='rgb')
        if image is None:
            raise ValueError(f'{path}: cannot be read as an image')
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


def crf_probs(image: ImageOrPath, probs: np.ndarray, cfg: dict) -> np.ndarray:
    """DenseCRF over ``probs [K, H, W]`` (the present classes' only): the
    refined ``[K, H, W]`` probabilities (the segmentor's ``seg_logits``)."""
    return dense_crf(read_rgb(image, probs.shape[1:]), probs, **cfg)


def _one_thread() -> None:
    """Worker start: one core each (the pool already has a process a core)."""
    torch.set_num_threads(1)


class CRFPool:
    """DenseCRF jobs in ``workers`` spawned processes, one thread each, with at
    most ``in_flight * workers`` jobs submitted and not yet collected (a long
    stream of score maps never piles up in memory); results come back in the
    order of submission. ``workers <= 1``: each job runs at once, in this
    process. Spawned, not forked: safe after torch and CUDA are initialised.

    ``submit(fn, *args)`` returns the results that are ready (in order),
    ``drain()`` the rest; ``map(fn, jobs)`` streams a whole iterable. ``fn``
    is a module-level function (``crf_label_map``, ``crf_probs``,
    ``crf_areas``), its arguments small: a path rather than pixels, the
    present classes' probabilities only.
    """

    def __init__(self, workers: int = 1, in_flight: int = 4):
        self.workers = max(1, int(workers))
        self.limit = in_flight * self.workers
        self._pool, self._pending = None, deque()

    def submit(self, fn: Callable, *args) -> List[Any]:
        if self.workers == 1:
            return [fn(*args)]
        if self._pool is None:
            self._pool = get_context('spawn').Pool(self.workers, initializer=_one_thread)
        self._pending.append(self._pool.apply_async(fn, args))
        done = []
        while self._pending and (self._pending[0].ready() or len(self._pending) >= self.limit):
            done.append(self._pending.popleft().get())
        return done

    def drain(self) -> List[Any]:
        done = [job.get() for job in self._pending]
        self._pending.clear()
        return done

    def map(self, fn: Callable, jobs: Iterable[tuple]) -> Iterator[Any]:
        for args in jobs:
            yield from self.submit(fn, *args)
        yield from self.drain()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> 'CRFPool':
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is not None and self._pool is not None:
            self._pool.terminate()
        self.close()
