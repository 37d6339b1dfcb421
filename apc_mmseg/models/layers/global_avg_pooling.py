import torch
from mmseg.registry import MODELS
from torch import Tensor

from .topk_mean_pooling import TopKMeanPooling


@MODELS.register_module()
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
