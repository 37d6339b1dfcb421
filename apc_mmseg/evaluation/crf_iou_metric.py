import os
from collections import deque
from multiprocessing import get_context
from typing import Optional, Sequence, Union

import mmcv
import numpy as np
import torch
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS

from ..postprocessing import CRF_DEFAULTS, check_crf_options, dense_crf


def crf_workers(workers: Union[int, str] = 'auto') -> int:
    """``'auto'``: this process's share of the usable cores (cores divided by
    the ranks on this machine, torchrun's ``LOCAL_WORLD_SIZE``)."""
    if workers != 'auto':
        return max(1, int(workers))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return max(1, (cores or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', 1)))


def _one_thread() -> None:
    """Worker start: one core each (the pool already has a process a core)."""
    torch.set_num_threads(1)


def crf_areas(job: tuple) -> tuple:
    """One image: DenseCRF over the given classes' probabilities, then
    mmseg's intersection / union areas against the mask (run in a worker)."""
    img_path, probs, classes, mask, num_classes, ignore_index, cfg = job
    image = mmcv.imread(img_path, channel_order='rgb')
    if image is None or image.shape[:2] != probs.shape[1:]:
        raise ValueError(f'{img_path}: cannot be read or is not of the prediction\'s size '
                         f'{probs.shape[1:]}')
    pred = np.asarray(classes)[dense_crf(image, probs, **cfg).argmax(0)]
    return tuple(IoUMetric.intersect_and_union(torch.from_numpy(pred), torch.from_numpy(mask),
                                               num_classes, ignore_index))


@METRICS.register_module()
class CRFIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` of the predictions refined by DenseCRF (the
    paper's protocol for its final figures).

    Each image's class probabilities (the softmax of ``seg_logits``, as mmseg
    reads them; APC's models store log-probabilities) are refined over the
    classes the prediction contains, with the image read from its path, in a
    pool of ``workers`` processes that runs beside the model: while it
    predicts the next images, the CRF of the previous ones uses the other
    cores. At most ``4 * workers`` images are in flight. Results of all ranks
    are gathered as by ``IoUMetric``.

    Args:
        crf (dict, optional): ``dense_crf`` options over ``CRF_DEFAULTS``.
        workers (int | str): CRF processes; ``'auto'`` (default): the cores
            of this machine divided by its ranks.
        Other args as ``IoUMetric``.
    """

    def __init__(self, crf: Optional[dict] = None, workers: Union[int, str] = 'auto',
                 **kwargs):
        super().__init__(**kwargs)
        check_crf_options(crf or {}, 'CRFIoUMetric crf')
        self.crf_cfg = dict(CRF_DEFAULTS, **(crf or {}))
        self.workers = crf_workers(workers)
        self._pool, self._pending = None, deque()

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for ds in data_samples:
            probs = ds['seg_logits']['data'].float().softmax(0)
            keep = probs.argmax(0).unique()
            job = (ds['img_path'], probs[keep].cpu().numpy(), keep.tolist(),
                   ds['gt_sem_seg']['data'].squeeze(0).cpu().numpy(), num_classes,
                   self.ignore_index, self.crf_cfg)
            self._submit(job)

    def _submit(self, job: tuple) -> None:
        if self.workers <= 1:
            self.results.append(crf_areas(job))
            return
        if self._pool is None:  # spawn: safe after CUDA is initialised
            self._pool = get_context('spawn').Pool(self.workers, initializer=_one_thread)
        self._pending.append(self._pool.apply_async(crf_areas, (job,)))
        while self._pending and (self._pending[0].ready()
                                 or len(self._pending) >= 4 * self.workers):
            self.results.append(self._pending.popleft().get())

    def evaluate(self, size: int) -> dict:
        while self._pending:
            self.results.append(self._pending.popleft().get())
        if self._pool is not None:
            self._pool.close()
            self._pool.join()
            self._pool = None
        return super().evaluate(size)
