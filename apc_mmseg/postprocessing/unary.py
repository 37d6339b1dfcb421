"""The CRF's class probabilities from class-merged patch scores (torch)."""
from typing import Optional

from torch import Tensor

# How patch scores become the CRF's probabilities (``patch_unary``); measured
# in docs/history/crf_unary_and_classifier.md.
DEFAULT_UNARY = 'softmax'


def masked_softmax(scores: Tensor, image_labels: Optional[Tensor]) -> Tensor:
    """Softmax over classes of class-merged scores ``[C+1, H, W]``, the classes
    outside ``image_labels [C+1]`` (multi-hot) given probability 0."""
    if image_labels is not None:
        scores = scores.masked_fill(image_labels[:, None, None] <= 0, float('-inf'))
    return scores.softmax(0)


def masked_sum_normalise(scores: Tensor, image_labels: Optional[Tensor],
                         eps: float = 1e-5) -> Tensor:
    """Class-merged scores ``[C+1, H, W]`` (in [0, 1]) divided by their sum over
    the classes of ``image_labels`` (ViT-PCM's unary); the other classes get 0.
    ``eps`` keeps a pixel that no class scores at a uniform distribution."""
    scores = scores.clamp_min(0) + eps
    if image_labels is not None:
        scores = scores * (image_labels[:, None, None] > 0)
    return scores / scores.sum(0, keepdim=True)


CRF_UNARIES = dict(softmax=masked_softmax, sum=masked_sum_normalise)


def patch_unary(scores: Tensor, image_labels: Optional[Tensor],
                name: str = DEFAULT_UNARY) -> Tensor:
    """The CRF's class probabilities ``[C+1, H, W]`` from class-merged patch
    scores (docs/method.md, DenseCRF): ``'softmax'`` (``masked_softmax``) or
    ``'sum'`` (``masked_sum_normalise``, as ViT-PCM)."""
    if name not in CRF_UNARIES:
        raise ValueError(f'crf unary {name!r}: choose one of {sorted(CRF_UNARIES)}')
    return CRF_UNARIES[name](scores, image_labels)
