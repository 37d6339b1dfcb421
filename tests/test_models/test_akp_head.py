import math

import pytest
import torch

from apc_mmseg.models import AKPHead


def test_forward_gives_patch_probabilities():
    head = AKPHead(in_channels=16, num_classes=5)
    probs = head((torch.randn(2, 16, 4, 3),))
    assert probs.shape == (2, 5, 4, 3)
    torch.testing.assert_close(probs.sum(1), torch.ones(2, 4, 3))
    assert head.classifier.bias is None


def test_loss_is_clipped_bce_of_pooled_scores():
    head = AKPHead(in_channels=4, num_classes=3, pooling=dict(type='GlobalMaxPooling'))
    probs = torch.zeros(1, 3, 2, 2)
    probs[0, 0] = torch.tensor([[0.2, 0.7], [0.1, 0.0]])
    probs[0, 1] = torch.tensor([[0.3, 0.1], [0.9, 0.0]])
    probs[0, 2] = torch.tensor([[0.5, 0.2], [0.0, 1.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    # max per class 0.7, 0.9, 1.0 (clipped to 1 - 1e-7)
    want = -(math.log(0.7) + math.log(1 - 0.9) + math.log(1 - 1e-7)) / 3
    assert head.loss_by_probs(probs, labels)['loss_cls'].item() == pytest.approx(want, rel=1e-5)


def test_l2_term_and_weight():
    head = AKPHead(in_channels=4, num_classes=3, l2_weight=0.01, loss_weight=2.0)
    with torch.no_grad():
        head.classifier.weight.fill_(0.5)
    probs = torch.full((1, 3, 2, 2), 1 / 3)
    labels = torch.ones(1, 3)
    bce = -math.log(1 / 3)
    want = 2.0 * (bce + 0.01 * 12 * 0.25)
    assert head.loss_by_probs(probs, labels)['loss_cls'].item() == pytest.approx(want, rel=1e-5)


def test_pseudo_labels_class_merge_absent_classes_and_padding():
    head = AKPHead(in_channels=4, num_classes=4)
    probs = torch.zeros(1, 4, 2, 2)
    probs[0, 0] = torch.tensor([[0.8, 0.5], [0.3, 0.5]])
    probs[0, 1] = torch.tensor([[0.1, 0.2], [0.6, 0.1]])   # absent, largest at (1, 0)
    probs[0, 2] = torch.tensor([[0.1, 0.3], [0.1, 0.15]])  # present, max 0.3
    probs[0, 3] = torch.tensor([[0.0, 0.0], [0.0, 0.25]])  # absent
    labels = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    # scaled: bg /0.8 -> [[1, .625], [.375, .625]]; class 2 /0.3 -> [[.33, 1], [.33, .5]]
    out = head.pseudo_labels(probs, labels, out_size=(4, 4), valid_sizes=[(4, 3)])
    want = torch.tensor([[0, 0, 2, 255],
                         [0, 0, 2, 255],
                         [0, 0, 0, 255],
                         [0, 0, 0, 255]])
    assert torch.equal(out[0], want)


def test_pseudo_labels_never_use_absent_classes():
    torch.manual_seed(0)
    head = AKPHead(in_channels=8, num_classes=6)
    probs = head((torch.randn(3, 8, 5, 5),))
    labels = torch.tensor([[1, 0, 1, 0, 0, 0], [1, 0, 0, 0, 0, 1], [1, 0, 0, 0, 0, 0]],
                          dtype=torch.float32)
    out = head.pseudo_labels(probs, labels, (40, 40))
    for b in range(3):
        assert set(out[b].unique().tolist()) <= set(labels[b].nonzero()[:, 0].tolist())
    assert out[2].eq(0).all()
