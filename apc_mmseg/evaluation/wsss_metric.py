from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger, print_log
from mmseg.evaluation.metrics import IoUMetric
from mmseg.registry import METRICS
from prettytable import PrettyTable
from torch import Tensor

from ..utils.sample_keys import IMAGE_SCORES_KEY, PSEUDO_MASK_KEY, TRAIN_MASK_KEY, WSSS_ROLE_KEY


def average_precision(scores: Tensor, targets: Tensor) -> Tensor:
    """Average precision per column: ``[N, K]`` scores and 0/1 targets ->
    ``[K]`` (NaN where a column has no positive). The mean, over the
    positives ranked by score, of the precision at each one's rank."""
    order = scores.argsort(dim=0, descending=True, stable=True)
    hits = targets.gather(0, order).double()
    ranks = torch.arange(1, len(scores) + 1, dtype=torch.float64)[:, None]
    precision_at_hit = hits.cumsum(0) / ranks * hits
    positives = hits.sum(0)
    return precision_at_hit.sum(0) / positives.where(positives > 0, torch.nan)


def f1_scores(predicted: Tensor, targets: Tensor) -> Tensor:
    """F1 per column of 0/1 ``[N, K]`` predictions and targets: 2TP / (2TP +
    FP + FN), NaN where a class is neither present nor predicted."""
    predicted, targets = predicted.double(), targets.double()
    tp = (predicted * targets).sum(0)
    denominator = predicted.sum(0) + targets.sum(0)
    return 2 * tp / denominator.where(denominator > 0, torch.nan)


@METRICS.register_module()
class WSSSMetric(BaseMetric):
    """What weak supervision is judged by, at every validation (APC Table 2).

    - ``pseudo_mIoU``: mIoU (%) of the pseudo masks (the patch classifier's
      scores with the ground-truth tags, no CRF) on the training images that
      ``WSSSValDataset`` adds to validation, against their masks.
    - ``cls_mF1`` / ``cls_mAP``: the image-level classifier on the
      validation images: F1 (scores >= ``threshold``) and average precision
      of the pooled scores (``pred_image_scores``) per foreground class, the
      true tags read from the masks (the classes present); means (%) over
      the classes present in the validation images.

    Per-class values are printed as a table; the means are the metrics
    (logged, in scalars.json and TensorBoard, usable as ``save_best``). Use
    next to ``IoUMetric`` in ``val_evaluator``; results of all ranks are
    gathered by mmengine before computing.

    Args:
        threshold (float): Pooled score from which a class counts as
            predicted, for F1. Defaults to 0.5 (L_cls is a binary
            cross-entropy on these scores).
        ignore_index (int): Unlabelled mask value. Defaults to 255.
    """

    default_prefix: Optional[str] = None

    def __init__(self, threshold: float = 0.5, ignore_index: int = 255,
                 collect_device: str = 'cpu', prefix: Optional[str] = None):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.threshold = threshold
        self.ignore_index = ignore_index

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """One result per sample (mmengine trims ranks' padding by count):
        ``('pseudo', areas)``, ``('cls', scores, tags)`` or ``('none',)``."""
        num_classes = len(self.dataset_meta['classes'])
        for ds in data_samples:
            if ds.get(WSSS_ROLE_KEY) == 'train':
                if PSEUDO_MASK_KEY not in ds:
                    raise KeyError(f"WSSSMetric: {ds.get('img_path')} has no {PSEUDO_MASK_KEY}: "
                                   'its pipeline must load the image labels '
                                   '(LoadImageLevelLabels) for an APC model to make one')
                pred = ds[PSEUDO_MASK_KEY]['data'].squeeze(0)
                mask = ds[TRAIN_MASK_KEY]['data'].squeeze(0).to(pred)
                areas = IoUMetric.intersect_and_union(pred, mask, num_classes,
                                                      self.ignore_index)
                self.results.append(('pseudo', *(a.cpu() for a in areas)))
            elif IMAGE_SCORES_KEY in ds and 'gt_sem_seg' in ds:
                mask = ds['gt_sem_seg']['data']
                present = mask[mask != self.ignore_index].long().unique().cpu()
                tags = torch.zeros(num_classes)
                tags[present[present < num_classes]] = 1
                self.results.append(('cls', ds[IMAGE_SCORES_KEY].float().cpu(), tags))
            else:
                self.results.append(('none',))

    def compute_metrics(self, results: List[tuple]) -> Dict[str, float]:
        classes = self.dataset_meta['classes']
        metrics, table = OrderedDict(), OrderedDict(Class=list(classes))
        pseudo = [r[1:] for r in results if r[0] == 'pseudo']
        if pseudo:
            areas = [torch.stack(a).sum(0) for a in zip(*pseudo)]
            iou = IoUMetric.total_area_to_metrics(*areas, metrics=['mIoU'])['IoU']
            metrics['pseudo_mIoU'] = round(float(np.nanmean(iou)) * 100, 2)
            table['pseudo IoU'] = [round(float(v) * 100, 2) for v in iou]
        cls = [r[1:] for r in results if r[0] == 'cls']
        if cls:
            scores = torch.stack([c[0] for c in cls])[:, 1:]
            tags = torch.stack([c[1] for c in cls])[:, 1:]
            f1 = f1_scores(scores >= self.threshold, tags)
            ap = average_precision(scores, tags)
            present = tags.sum(0) > 0
            metrics['cls_mF1'] = round(float(f1[present].nanmean()) * 100, 2)
            metrics['cls_mAP'] = round(float(ap[present].nanmean()) * 100, 2)
            table['cls F1'] = ['-'] + [round(float(v) * 100, 2) for v in f1]
            table['cls AP'] = ['-'] + [round(float(v) * 100, 2) for v in ap]
        if not metrics:
            raise ValueError('WSSSMetric: no sample to judge: validate on a WSSSValDataset '
                             '(training images with masks and tags) with an APC model')
        pretty = PrettyTable()
        for key, values in table.items():
            pretty.add_column(key, values)
        print_log('per-class WSSS results:\n' + pretty.get_string(),
                  logger=MMLogger.get_current_instance())
        return dict(metrics)
