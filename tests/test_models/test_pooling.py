import pytest
import torch
from mmseg.registry import MODELS

from apc_mmseg.models import AdaptiveKPooling, FixedKPooling, GlobalAvgPooling


def as_map(values, h=3, w=3):
    """A 1x1xHxW map holding ``values`` followed by zeros."""
    flat = torch.zeros(h * w, dtype=torch.float64)
    flat[:len(values)] = torch.tensor(values, dtype=torch.float64)
    return flat.view(1, 1, h, w)


def reference_akp(scores, k_max, delta, criterion):
    """Per-map loop over sorted scores in float64 (Algorithm 1 read literally)."""
    B, C = scores.shape[:2]
    out = torch.zeros(B, C, dtype=torch.float64)
    ks = torch.zeros(B, C, dtype=torch.long)
    for b in range(B):
        for c in range(C):
            s = sorted(scores[b, c].flatten().tolist(), reverse=True)
            k = 1
            while k < min(k_max, len(s)):
                nxt = s[k]
                close = (s[0] - nxt < delta) if criterion == 'gap' else (nxt > (1 - delta) * s[0])
                if not close:
                    break
                k += 1
            ks[b, c] = k
            out[b, c] = sum(s[:k]) / k
    return out, ks


def test_akp_gap_picks_k_by_hand():
    # gaps to the max 0.9: 0, 0.1, 0.15, 0.3 -> K=3, mean of 0.9, 0.8, 0.75.
    scores = as_map([0.6, 0.9, 0.1, 0.75, 0.8])
    pool = AdaptiveKPooling(k_max=6, delta=0.2)
    assert pool.select_k(scores).item() == 3
    assert pool(scores).item() == pytest.approx((0.9 + 0.8 + 0.75) / 3, abs=1e-12)


def test_akp_ratio_differs_from_gap():
    # 0.42/0.5 = 0.84 > 0.8 kept, 0.35/0.5 = 0.7 dropped -> K=2; gap keeps both.
    scores = as_map([0.5, 0.42, 0.35])
    assert AdaptiveKPooling(delta=0.2, criterion='ratio').select_k(scores).item() == 2
    assert AdaptiveKPooling(delta=0.2, criterion='gap').select_k(scores).item() == 3
    assert AdaptiveKPooling(criterion='ratio')(scores).item() == pytest.approx(0.46)


def test_akp_constant_map_is_capped_at_k_max():
    pool = AdaptiveKPooling(k_max=6, delta=0.2)
    scores = torch.full((1, 1, 4, 4), 0.5)
    assert pool.select_k(scores).item() == 6
    assert pool(scores).item() == pytest.approx(0.5)
    zeros = torch.zeros(2, 3, 4, 4)
    assert torch.equal(pool(zeros), torch.zeros(2, 3))
    # 'ratio' has no scale on an all-zero map: only the maximum counts.
    assert AdaptiveKPooling(criterion='ratio').select_k(zeros).eq(1).all()
    assert AdaptiveKPooling(criterion='ratio').select_k(scores).item() == 6


def test_akp_k_max_one_is_max_pooling_exactly():
    scores = torch.rand(4, 21, 24, 24)
    assert torch.equal(AdaptiveKPooling(k_max=1)(scores), scores.amax(dim=(2, 3)))
    assert torch.equal(MODELS.build(dict(type='GlobalMaxPooling'))(scores),
                       scores.amax(dim=(2, 3)))


@pytest.mark.parametrize('criterion', ['gap', 'ratio'])
def test_akp_matches_float64_loop_over_batch_and_classes(criterion):
    g = torch.Generator().manual_seed(0)
    # Few distinct levels so that K varies between maps.
    scores = (torch.randint(0, 12, (3, 5, 4, 4), generator=g) / 12).double()
    want, want_k = reference_akp(scores, 6, 0.2, criterion)
    pool = AdaptiveKPooling(k_max=6, delta=0.2, criterion=criterion)
    assert torch.equal(pool.select_k(scores), want_k)
    assert len(want_k.unique()) > 2
    torch.testing.assert_close(pool(scores), want, rtol=0, atol=1e-12)


def test_akp_gradient_reaches_exactly_the_selected_patches():
    scores = as_map([0.6, 0.9, 0.1, 0.75, 0.8]).requires_grad_()
    AdaptiveKPooling()(scores).sum().backward()
    grad = scores.grad.flatten()
    want = torch.zeros(9, dtype=torch.float64)
    want[[1, 3, 4]] = 1 / 3
    assert torch.equal(grad, want)


def test_akp_with_ties_selects_k_patches():
    scores = as_map([0.7, 0.7, 0.7, 0.2]).requires_grad_()
    pool = AdaptiveKPooling(k_max=2)
    y = pool(scores)
    y.sum().backward()
    assert y.item() == pytest.approx(0.7)
    assert (scores.grad != 0).sum().item() == 2
    assert scores.grad.sum().item() == pytest.approx(1.0)


def test_ablation_poolings():
    scores = as_map([0.6, 0.9, 0.1, 0.75, 0.8])
    assert FixedKPooling(k=2)(scores).item() == pytest.approx(0.85)
    assert MODELS.build(dict(type='FixedKPooling', k=4))(scores).item() == \
        pytest.approx(0.7625)
    assert GlobalAvgPooling()(scores).item() == pytest.approx(3.15 / 9)
    assert MODELS.build(dict(type='GlobalAvgPooling')).select_k(scores).item() == 9


def test_bad_pooling_configs():
    with pytest.raises(KeyError, match='median'):
        MODELS.build(dict(type='median'))
    with pytest.raises(ValueError, match='criterion'):
        AdaptiveKPooling(criterion='relative')
    with pytest.raises(ValueError, match='k_max'):
        AdaptiveKPooling(k_max=0)
