from mmseg.registry import MODELS
from torch import Tensor

from .topk_mean_pooling import TopKMeanPooling


@MODELS.register_module()
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

