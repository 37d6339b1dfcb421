import math

import pytest
import torch
from helpers import pcl_inputs as inputs
from helpers import pcl_similarity as s

from apc_mmseg.models import PatchContrastLoss, patch_contrast_loss


def test_matches_hand_computation():
    # class 1: H={0,1}, L={2}; background: H={2}, L={1} (P_bg(0)=0.12 is not < 0.1).
    pce_fg = -(2 * math.log(s(0.6))) / 2 - (math.log(1 - s(0.0)) + math.log(1 - s(0.8))) / 2
    pce_bg = -math.log(1 - s(0.8))  # no pair inside H: positive term absent
    want = (pce_fg + pce_bg) / 2
    got = patch_contrast_loss(*inputs(), theta=0.85, tau=0.1)
    assert got.item() == pytest.approx(want, rel=1e-9)
    assert got.item() == pytest.approx(2.011798, rel=1e-5)


def test_n_low_uses_lowest_patches():
    # class 1: the 2 lowest are patches 2 and 3; background: patches 1 and 0.
    pce_fg = -math.log(s(0.6)) - sum(math.log(1 - s(c)) for c in (0.0, 0.8, -1.0, -0.6)) / 4
    pce_bg = -(math.log(1 - s(0.0)) + math.log(1 - s(0.8))) / 2
    got = patch_contrast_loss(*inputs(), theta=0.85, n_low=2)
    assert got.item() == pytest.approx((pce_fg + pce_bg) / 2, rel=1e-9)


def test_absent_class_is_ignored():
    # Only background labelled: class 1's sets are empty.
    got = patch_contrast_loss(*inputs(labels=(1.0, 0.0)))
    assert got.item() == pytest.approx(-math.log(1 - s(0.8)), rel=1e-9)


def test_empty_sets_give_zero_not_nan():
    emb = torch.randn(2, 8, 3, 3, requires_grad=True)
    probs = torch.full((2, 4, 3, 3), 0.25)  # nothing above theta
    loss = patch_contrast_loss(emb, probs, torch.ones(2, 4))
    assert loss.item() == 0.0
    loss.backward()
    assert torch.isfinite(emb.grad).all() and emb.grad.abs().sum() == 0


@pytest.mark.parametrize('scale', [0.0, 1e-30, 1e30])
def test_finite_for_degenerate_embeddings(scale):
    emb = (torch.ones(1, 4, 2, 2) * scale).requires_grad_()
    probs = torch.tensor([[0.05, 0.9], [0.95, 0.05]]).t().reshape(1, 2, 2, 1).expand(1, 2, 2, 2)
    loss = patch_contrast_loss(emb, probs.contiguous(), torch.ones(1, 2))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(emb.grad).all()


def test_gradient_step_pulls_high_confidence_patches_together():
    emb, probs, labels = inputs()
    emb = emb.float().requires_grad_()
    loss_fn = PatchContrastLoss(loss_weight=1.0)
    before = torch.cosine_similarity(emb[0, :, 0, 0], emb[0, :, 0, 1], dim=0).item()
    loss = loss_fn(emb, probs.float(), labels.float())
    loss.backward()
    with torch.no_grad():
        moved = emb - 0.1 * emb.grad
    after = torch.cosine_similarity(moved[0, :, 0, 0], moved[0, :, 0, 1], dim=0).item()
    assert after > before
    assert loss_fn(moved, probs.float(), labels.float()) < loss


def test_module_weight_and_name():
    loss_fn = PatchContrastLoss(loss_weight=0.02)
    assert loss_fn.loss_name == 'loss_pcl'
    full = patch_contrast_loss(*inputs())
    assert loss_fn(*inputs()).item() == pytest.approx(0.02 * full.item())


@pytest.mark.parametrize('labels', [(1.0, 1.0), (0.0, 0.0)])
def test_finite_and_exact_under_bf16_autocast(labels):
    """In bf16, 1 - 1e-6 rounds to 1 and log(1 - s'(i, i)) is -inf; the loss
    must leave autocast and keep float32 (0 when no set is non-empty)."""
    emb, probs, lab = (t.float() for t in inputs(labels))
    want = patch_contrast_loss(*inputs(labels), theta=0.85, tau=0.1).item()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        got = patch_contrast_loss(emb, probs, lab, theta=0.85, tau=0.1)
    assert got.dtype == torch.float32 and torch.isfinite(got)
    assert got.item() == pytest.approx(want, rel=1e-5, abs=1e-7)
