import torch
import torch.nn as nn
from torch import Tensor


class UniformMaskDropout(nn.Dropout):
    """``nn.Dropout`` whose keep-mask comes from ``rand_like`` (same law).

    Each element is kept with probability ``1 - p`` and scaled by
    ``1 / (1 - p)``, as ``nn.Dropout``. On CPU, ``bernoulli_`` with a scalar
    p costs twice a uniform draw plus a comparison (measured 7.6 vs 3.3 ms
    for a ``[2, 768, 24, 24]`` map), and the heads drop two such maps every
    step. ``inplace`` is accepted for ``nn.Dropout``'s signature and ignored.
    Shapes: any -> same.
    """

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return x * 0
        keep = torch.rand_like(x).ge_(self.p).mul_(1 / (1 - self.p))
        return x * keep
