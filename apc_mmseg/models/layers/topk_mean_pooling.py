"""Image-level pooling of patch scores (docs/method.md and the ablations).

Every pooling maps patch scores ``[B, C, H, W]`` to image scores ``[B, C]`` as
the mean of each map's K highest scores; they differ only in how K is chosen,
which is done without gradient. Gradients therefore reach exactly the K
selected patches of every (image, class) map.
"""
import torch
import torch.nn as nn
from torch import Tensor


class TopKMeanPooling(nn.Module):
    """Mean of the K highest scores per map; subclasses choose K.

    Args:
        k_max (int | None): Upper bound of K; only the ``k_max`` highest scores
            are ever looked at (``None`` means all patches).
    """

    def __init__(self, k_max=None):
        super().__init__()
        if k_max is not None and k_max < 1:
            raise ValueError(f'k_max must be >= 1, got {k_max}')
        self.k_max = k_max

    def _top(self, scores: Tensor) -> Tensor:
        """The ``k_max`` highest scores per map, descending: ``[B, C, k]``."""
        flat = scores.flatten(2)
        k = flat.shape[-1] if self.k_max is None else min(self.k_max, flat.shape[-1])
        return flat.topk(k, dim=-1, sorted=True).values

    def _k_from_top(self, top: Tensor) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def select_k(self, scores: Tensor) -> Tensor:
        """K per map: ``[B, C, H, W] -> LongTensor[B, C]``."""
        return self._k_from_top(self._top(scores))

    def forward(self, scores: Tensor) -> Tensor:
        """``[B, C, H, W] -> [B, C]``."""
        top = self._top(scores)
        with torch.no_grad():
            k = self._k_from_top(top)
            keep = torch.arange(top.shape[-1], device=top.device) < k.unsqueeze(-1)
        return (top * keep).sum(-1) / k.to(top.dtype)

