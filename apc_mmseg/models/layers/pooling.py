"""Image-level pooling of patch scores (docs/method.md and the ablations).

Every pooling maps patch scores ``[B, C, H, W]`` to image scores ``[B, C]`` as
the mean of each map's K highest scores; they differ only in how K is chosen,
which is done without gradient. Gradients therefore reach exactly the K
selected patches of every (image, class) map.
"""
from typing import Dict, Type

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


class AdaptiveKPooling(TopKMeanPooling):
    """Adaptive-K pooling (APC, Eq. 2 / Algorithm 1).

    K = #{i <= k_max : s_1 - s_i < delta} ('gap') or
    #{i <= k_max : s_i / s_1 > 1 - delta} ('ratio') over the scores sorted in
    descending order, so the chosen patches are the top K; ``s_1`` always
    counts, hence K >= 1.

    Args:
        k_max (int): Largest K. Defaults to 6.
        delta (float): Closeness threshold to the maximum. Defaults to 0.2.
        criterion (str): ``'gap'`` or ``'ratio'``.
    """

    def __init__(self, k_max: int = 6, delta: float = 0.2, criterion: str = 'gap'):
        super().__init__(k_max)
        if criterion not in ('gap', 'ratio'):
            raise ValueError(f"criterion must be 'gap' or 'ratio', got {criterion!r}")
        self.delta = delta
        self.criterion = criterion

    def _k_from_top(self, top: Tensor) -> Tensor:
        s1 = top[..., :1]
        if self.criterion == 'gap':
            close = (s1 - top) < self.delta
        else:
            close = top > (1 - self.delta) * s1
        close[..., 0] = True  # the maximum itself, even for an all-zero map
        return close.sum(-1)


class FixedKPooling(TopKMeanPooling):
    """Mean of the top ``k`` scores (``k=1`` is global max pooling)."""

    def __init__(self, k: int = 1):
        super().__init__(k)

    def _k_from_top(self, top: Tensor) -> Tensor:
        return top.new_full(top.shape[:-1], top.shape[-1], dtype=torch.long)


class GlobalAvgPooling(TopKMeanPooling):
    """Mean over all patches (K = H·W)."""

    def __init__(self):
        super().__init__(None)

    def _top(self, scores: Tensor) -> Tensor:
        return scores.flatten(2)  # no sort needed: every patch is kept

    def _k_from_top(self, top: Tensor) -> Tensor:
        return top.new_full(top.shape[:-1], top.shape[-1], dtype=torch.long)

    def forward(self, scores: Tensor) -> Tensor:
        return scores.mean((2, 3))


POOLINGS: Dict[str, Type[TopKMeanPooling]] = {
    'akp': AdaptiveKPooling,
    'topk': FixedKPooling,
    'max': FixedKPooling,
    'avg': GlobalAvgPooling,
}


def build_pooling(cfg: dict) -> TopKMeanPooling:
    """Build a pooling from ``dict(type='akp' | 'max' | 'avg' | 'topk', ...)``."""
    cfg = dict(cfg)
    kind = cfg.pop('type')
    if kind not in POOLINGS:
        raise ValueError(f'unknown pooling {kind!r}; choose from {sorted(POOLINGS)}')
    if kind == 'max':
        if cfg.get('k', 1) != 1:
            raise ValueError("'max' pooling takes no k; use type='topk'")
        cfg['k'] = 1
    return POOLINGS[kind](**cfg)
