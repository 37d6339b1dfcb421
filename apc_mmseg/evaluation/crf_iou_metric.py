import os
from typing import Optional, Sequence, Union

import numpy as np
import torch
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS

from ..postprocessing import CRF_DEFAULTS, CRFPool, check_crf_options, crf_label_map


def crf_workers(workers: Union[int, str] = 'auto') -> int:
    """``'auto'``: this process's share of the usable cores (cores divided by
    the ranks on this machine, torchrun's ``LOCAL_WORLD_SIZE``)."""
    if workers != 'auto':
        return max(1, int(workers))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return max(1, (cores or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', 1)))


def crf_areas(img_path: str, probs: np.ndarray, classes: Sequence[int], mask: np.ndarray,
              num_classes: int, ignore_index: int, cfg: dict) -> tuple:
    """One image: DenseCRF over the given classes' probabilities, then
    mmseg's intersection / union areas against the mask (run in a worker:
    four vectors come back, not the map)."""
    pred = crf_label_map(img_path, probs, classes, cfg)
    return tuple(IoUMetric.intersect_and_union(torch.from_numpy(pred.astype(np.int64)),
                                               torch.from_numpy(mask), num_classes,
                                               ignore_index))


@METRICS.register_module()
class CRFIoUMetric(IoUMetric):
    """mmseg's ``IoUMetric`` of the predictions refined by DenseCRF (the
    paper's protocol for its final figures).

    Each image's class probabilities (the softmax of ``seg_logits``, as mmseg
    reads them; APC's models store log-probabilities) are refined over the
    classes the prediction contains, with the image read from its path, in a
    ``CRFPool`` of ``workers`` processes that runs beside the model: while it
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
        self._pool = CRFPool(self.workers)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for ds in data_samples:
            probs = ds['seg_logits']['data'].float().softmax(0)
            keep = probs.argmax(0).unique()
            job = (ds['img_path'], probs[keep].cpu().numpy(), keep.tolist(),
                   ds['gt_sem_seg']['data'].squeeze(0).cpu().numpy(), num_classes,
                   self.ignore_index, self.crf_cfg)
            self.results.extend(self._pool.submit(crf_areas, *job))

    def evaluate(self, size: int) -> dict:
        self.results.extend(self._pool.drain())
        self._pool.close()
        return super().evaluate(size)
