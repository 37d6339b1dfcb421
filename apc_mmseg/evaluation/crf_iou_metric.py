import os
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS

from ..postprocessing import CRFPool, crf_areas, crf_settings


def crf_workers(workers: Union[int, str] = 'auto') -> int:
    """``'auto'``: this process's share of the usable cores (cores divided by
    the ranks on this machine, torchrun's ``LOCAL_WORLD_SIZE``)."""
    if workers != 'auto':
        return max(1, int(workers))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return max(1, (cores or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', 1)))


def present_probs(logits: torch.Tensor) -> Tuple[np.ndarray, np.ndarray]:
    """The softmax over ``logits [K, H, W]`` of the classes that win a pixel
    (``[k, H, W]`` float32) and those classes (``[k]``, ascending), on the
    host. On an accelerator the reductions run there and only the ``k``
    maps cross to the host (not all K); on the CPU in NumPy, one thread:
    twice as fast here as torch's reductions over dim 0, and no OpenMP
    threads spinning beside the CRF workers."""
    logits = logits.float()
    if logits.device.type != 'cpu':
        keep = torch.bincount(logits.argmax(0).flatten(), minlength=len(logits)).nonzero()[:, 0]
        probs = (logits[keep] - logits.logsumexp(0, keepdim=True)).exp()
        return probs.cpu().numpy(), keep.cpu().numpy()
    logits = logits.numpy()
    keep = np.flatnonzero(np.bincount(logits.argmax(0).ravel(), minlength=len(logits)))
    top = logits.max(0)
    log_norm = np.log(np.exp(logits - top).sum(0)) + top
    return np.exp(logits[keep] - log_norm), keep


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
        self.crf_cfg = crf_settings(crf, 'CRFIoUMetric crf')
        self.workers = crf_workers(workers)
        self._pool = CRFPool(self.workers)

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        num_classes = len(self.dataset_meta['classes'])
        for ds in data_samples:
            probs, keep = present_probs(ds['seg_logits']['data'])
            mask = ds['gt_sem_seg']['data'].squeeze(0).cpu().numpy()
            if max(num_classes - 1, self.ignore_index) < 256:
                mask = mask.astype(np.uint8)  # 8x less to send
            job = (ds['img_path'], probs, keep.tolist(), mask,
                   num_classes, self.ignore_index, self.crf_cfg)
            self._keep(self._pool.submit(crf_areas, *job))

    def _keep(self, areas: list) -> None:
        """Counts as ``IoUMetric.intersect_and_union`` gives them (float32)."""
        self.results.extend(tuple(torch.from_numpy(a).float() for a in one) for one in areas)

    def evaluate(self, size: int) -> dict:
        self._keep(self._pool.drain())
        self._pool.close()
        return super().evaluate(size)
