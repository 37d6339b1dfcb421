import math

import pytest
import torch

from apc_mmseg.evaluation import WSSSMetric, average_precision, f1_scores

CLASSES = ('background', 'a', 'b', 'c')


def test_average_precision_by_hand():
    # Class 0: positives ranked 1st and 3rd -> (1/1 + 2/3) / 2. Class 1: the one
    # positive ranked 2nd -> 1/2. Class 2: no positive -> NaN.
    scores = torch.tensor([[0.9, 0.8, 0.1], [0.5, 0.7, 0.2], [0.4, 0.1, 0.3]])
    targets = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 0, 0]])
    ap = average_precision(scores, targets)
    assert ap[0].item() == pytest.approx((1 + 2 / 3) / 2)
    assert ap[1].item() == pytest.approx(1 / 2)
    assert math.isnan(ap[2].item())


def test_f1_by_hand():
    predicted = torch.tensor([[1, 1, 0], [1, 0, 0], [0, 0, 0]])
    targets = torch.tensor([[1, 0, 0], [0, 0, 0], [1, 0, 0]])
    f1 = f1_scores(predicted, targets)
    # class 0: TP 1, FP 1, FN 1 -> 2/4; class 1: FP 1 -> 0; class 2: nothing -> NaN
    assert f1[0].item() == pytest.approx(0.5)
    assert f1[1].item() == 0
    assert math.isnan(f1[2].item())


def sample(pred, mask=None, train_mask=None, scores=None):
    """A data sample as mmengine's evaluator hands it to a metric (a dict)."""
    out = dict(pred_sem_seg=dict(data=torch.tensor(pred)[None]))
    if train_mask is not None:
        # pred is the pseudo mask; the decode head's prediction (all 0) is not judged
        out.update(pred_pseudo_sem_seg=out['pred_sem_seg'],
                   pred_sem_seg=dict(data=torch.zeros_like(torch.tensor(pred))[None]))
        out.update(wsss_role='train', gt_train_sem_seg=dict(data=torch.tensor(train_mask)[None]),
                   gt_sem_seg=dict(data=torch.full((1, *torch.tensor(pred).shape), 255)))
    else:
        out['gt_sem_seg'] = dict(data=torch.tensor(mask)[None])
        out['pred_image_scores'] = torch.tensor(scores)
    return out


def test_metric_by_hand():
    metric = WSSSMetric(threshold=0.5)
    metric.dataset_meta = dict(classes=CLASSES)
    samples = [
        # training images: pseudo mask against the real one
        sample([[0, 1], [1, 1]], train_mask=[[0, 1], [0, 1]]),
        sample([[2, 2], [0, 255]], train_mask=[[2, 0], [0, 255]]),
        # validation images: pooled scores, tags read from the mask
        sample([[0, 0], [0, 0]], mask=[[0, 1], [2, 255]], scores=[1.0, 0.9, 0.3, 0.6]),
        sample([[0, 0], [0, 0]], mask=[[0, 0], [2, 2]], scores=[1.0, 0.2, 0.8, 0.1]),
    ]
    metric.process({}, samples)
    out = metric.compute_metrics(metric.results)
    # pseudo IoU over both images (pixel (1, 1) of the second ignored):
    # bg: predicted {1:(0,0), 2:(1,0)}, true {1:(0,0), 1:(1,0), 2:(0,1), 2:(1,0)} -> 2/4;
    # a: predicted {(0,1), (1,0), (1,1)} of image 1, true {(0,1), (1,1)} -> 2/3;
    # b: predicted {(0,0), (0,1)} of image 2, true {(0,0)} -> 1/2; c nowhere: left out.
    assert out['pseudo_mIoU'] == pytest.approx(round((1 / 2 + 2 / 3 + 1 / 2) / 3 * 100, 2))
    # classifier on the two val images: tags a: (1, 0), b: (1, 1), c: (0, 0)
    # F1: a: predicted (1, 0) -> 1; b: predicted (0, 1) -> TP 1 FN 1 -> 2/3; c is in
    # no image (predicted once: F1 0) and left out of the mean.
    assert out['cls_mF1'] == pytest.approx(round((1 + 2 / 3) / 2 * 100, 2))
    # AP: a: its positive ranked first -> 1; b: positives ranked 2nd (0.3) and 1st
    # (0.8) -> (1 + 1) / 2 = 1.
    assert out['cls_mAP'] == pytest.approx(100.0)


def test_metric_without_samples_to_judge_says_so():
    metric = WSSSMetric()
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, [dict(pred_sem_seg=dict(data=torch.zeros(1, 2, 2)))])
    with pytest.raises(ValueError, match='WSSSValDataset'):
        metric.compute_metrics(metric.results)
