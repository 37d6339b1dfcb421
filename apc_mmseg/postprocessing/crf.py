"""DenseCRF refinement (pydensecrf2), with ViT-PCM's defaults (docs/method.md).

NumPy only: CRF worker processes import it without torch (``crf_jobs``)."""
from typing import Optional, Sequence

import numpy as np
import pydensecrf.densecrf as dcrf
from pydensecrf.utils import unary_from_softmax

CRF_DEFAULTS = dict(gauss_sxy=1, gauss_compat=3, bilateral_sxy=67,
                    bilateral_srgb=3, bilateral_compat=4, iterations=10)


def crf_settings(options: Optional[dict], where: str) -> dict:
    """``CRF_DEFAULTS`` updated by ``options``; options ``dense_crf`` does not
    take are refused (a typo would otherwise show only after a whole model
    pass), naming ``where`` they came from."""
    options = dict(options or {})
    unknown = sorted(set(options) - set(CRF_DEFAULTS))
    if unknown:
        raise ValueError(f'{where}: unknown DenseCRF option(s) {unknown}; valid: '
                         f'{sorted(CRF_DEFAULTS)}')
    return dict(CRF_DEFAULTS, **options)


def dense_crf(image: np.ndarray, probs: np.ndarray,
              classes: Optional[Sequence[int]] = None,
              gauss_sxy: float = 1, gauss_compat: float = 3,
              bilateral_sxy: float = 67, bilateral_srgb: float = 3,
              bilateral_compat: float = 4, iterations: int = 10) -> np.ndarray:
    """Refine class probabilities with a fully connected CRF.

    Args:
        image: ``[H, W, 3]`` uint8 RGB image.
        probs: ``[K, H, W]`` class probabilities (each pixel sums to 1).
        classes: If given, the CRF runs over these classes only (the ones
            present in the image); the others get probability 0. Fewer
            labels make it several times faster.

    Returns:
        ``[K, H, W]`` float32 refined probabilities.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f'dense_crf needs an HxWx3 uint8 image, got '
                         f'{image.shape} {image.dtype}')
    K, H, W = probs.shape
    if image.shape[:2] != (H, W):
        raise ValueError(f'image {image.shape[:2]} and probs {(H, W)} differ in size')
    keep = np.arange(K) if classes is None else np.asarray(sorted(set(classes)))
    sub = probs[keep].astype(np.float32)
    sub = sub / np.maximum(sub.sum(0, keepdims=True), 1e-8)
    out = np.zeros((K, H, W), np.float32)
    if len(keep) == 1:
        out[keep[0]] = 1.0
        return out
    crf = dcrf.DenseCRF2D(W, H, len(keep))
    crf.setUnaryEnergy(np.ascontiguousarray(unary_from_softmax(sub)))
    crf.addPairwiseGaussian(sxy=gauss_sxy, compat=gauss_compat)
    crf.addPairwiseBilateral(sxy=bilateral_sxy, srgb=bilateral_srgb,
                             rgbim=np.ascontiguousarray(image), compat=bilateral_compat)
    q = np.array(crf.inference(iterations), dtype=np.float32).reshape(len(keep), H, W)
    out[keep] = q
    return out
