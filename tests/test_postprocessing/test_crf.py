import numpy as np
import pytest

from apc_mmseg.postprocessing import CRF_DEFAULTS, dense_crf


def two_region_case(seed=0, h=40, w=60):
    """Left half dark, right half bright; the scores are noisy around 0.5."""
    rng = np.random.default_rng(seed)
    image = np.zeros((h, w, 3), np.uint8)
    image[:, w // 2:] = 220
    truth = np.zeros((h, w), np.int64)
    truth[:, w // 2:] = 2
    p2 = np.clip(np.where(truth == 2, 0.6, 0.4) + rng.normal(0, 0.25, (h, w)), 0.01, 0.99)
    probs = np.zeros((3, h, w), np.float32)
    probs[0], probs[2] = 1 - p2, p2
    return image, probs, truth


def test_defaults_are_vit_pcm():
    assert CRF_DEFAULTS == dict(gauss_sxy=1, gauss_compat=3, bilateral_sxy=67,
                                bilateral_srgb=3, bilateral_compat=4, iterations=10)


def test_crf_cleans_noise_along_image_edges():
    image, probs, truth = two_region_case()
    before = (probs.argmax(0) == truth).mean()
    out = dense_crf(image, probs, classes=[0, 2])
    after = (out.argmax(0) == truth).mean()
    assert before < 0.85 and after > 0.98
    np.testing.assert_allclose(out.sum(0), 1, atol=1e-5)


def test_absent_classes_stay_at_zero():
    image, probs, _ = two_region_case()
    probs[1] = 0.3  # a class that is not in the image
    probs /= probs.sum(0, keepdims=True)
    out = dense_crf(image, probs, classes=[0, 2])
    assert out[1].max() == 0
    assert set(np.unique(out.argmax(0))) <= {0, 2}


def test_single_class_is_certain():
    image, probs, _ = two_region_case()
    out = dense_crf(image, probs, classes=[0])
    assert out[0].min() == 1 and out[1:].max() == 0


def test_bad_inputs_are_clear_errors():
    image, probs, _ = two_region_case()
    with pytest.raises(ValueError, match='uint8 image'):
        dense_crf(image.astype(np.float32), probs)
    with pytest.raises(ValueError, match='differ in size'):
        dense_crf(image[:10], probs)


def test_masked_softmax_unary_by_hand():
    """The CRF unary of pseudo masks: softmax of the class-merged scores over
    the tagged classes; untagged classes get probability 0."""
    import math

    import torch

    from apc_mmseg.postprocessing import masked_softmax
    scores = torch.tensor([[[1.0, 0.2]], [[0.0, 1.0]], [[0.5, 0.5]]])  # [3, 1, 2]
    got = masked_softmax(scores, torch.tensor([1.0, 0.0, 1.0]))
    e = math.exp
    want = [[e(1.0) / (e(1.0) + e(0.5)), e(0.2) / (e(0.2) + e(0.5))],
            [0.0, 0.0],
            [e(0.5) / (e(1.0) + e(0.5)), e(0.5) / (e(0.2) + e(0.5))]]
    torch.testing.assert_close(got[:, 0].double(), torch.tensor(want, dtype=torch.float64),
                               rtol=1e-6, atol=1e-7)
    all_classes = masked_softmax(scores, None)[:, 0, 0].double()
    total = e(1.0) + e(0.0) + e(0.5)
    torch.testing.assert_close(all_classes, torch.tensor([e(1.0), e(0.0), e(0.5)],
                                                         dtype=torch.float64) / total)


def test_sum_normalised_unary_by_hand():
    """ViT-PCM's unary: the scores over the tagged classes divided by their
    sum (plus 1e-5 each, so an all-zero pixel is uniform); others get 0."""
    import torch

    from apc_mmseg.postprocessing import patch_unary
    scores = torch.tensor([[[1.0, 0.0]], [[0.7, 0.9]], [[0.5, 0.0]]])  # [3, 1, 2]
    got = patch_unary(scores, torch.tensor([1.0, 0.0, 1.0]), 'sum')[:, 0].double()
    e = 1e-5
    want = [[(1 + e) / (1.5 + 2 * e), 0.5],
            [0.0, 0.0],
            [(0.5 + e) / (1.5 + 2 * e), 0.5]]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64),
                               rtol=1e-6, atol=1e-7)
    softmax = patch_unary(scores, torch.tensor([1.0, 0.0, 1.0]), 'softmax')[:, 0, 0]
    assert softmax[0] < got[0, 0]  # the softmax of scores in [0, 1] is flatter


def test_unknown_unary_is_named():
    import torch

    from apc_mmseg.postprocessing import patch_unary
    with pytest.raises(ValueError, match="crf unary 'max'"):
        patch_unary(torch.zeros(2, 1, 1), None, 'max')
