from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor


@torch.no_grad()
def select_patches(probs: Tensor, image_labels: Tensor, theta: float = 0.85,
                   tau: float = 0.1, n_low: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """High- and low-confidence patch sets per (image, class).

    ``probs [B, K, N]``, ``image_labels [B, K]`` -> masks ``high, low`` of
    ``[B, K, N]`` (float), empty for classes absent from the label. ``low`` is
    ``P < tau``, or the ``n_low`` lowest-scoring patches when given.
    """
    present = (image_labels > 0)[:, :, None]
    high = (probs > theta) & present
    if n_low is None:
        low = probs < tau
    else:
        idx = probs.topk(min(n_low, probs.shape[-1]), dim=-1, largest=False).indices
        low = torch.zeros_like(high).scatter_(-1, idx, True)
    return high.to(probs.dtype), (low & present).to(probs.dtype)


def patch_contrast_loss(embeddings: Tensor, probs: Tensor, image_labels: Tensor,
                        theta: float = 0.85, tau: float = 0.1,
                        n_low: Optional[int] = None, eps: float = 1e-6) -> Tensor:
    """Patch contrastive loss L_pcl (APC Eqs. 4-6, docs/method.md).

    Args:
        embeddings: ``[B, D, H, W]`` patch embeddings Z.
        probs: ``[B, K, H, W]`` patch class probabilities P (K = C + 1).
        image_labels: ``[B, K]`` multi-hot labels (background included).

    Returns:
        Scalar: the mean of PCE_c over the (image, class) pairs with a
        non-empty high-confidence set; 0 (still in the graph) when none.
    """
    # float64 inputs stay float64 (reference checks); anything lower is
    # computed in float32 with autocast off: in bf16/fp16, 1 - eps rounds to 1
    # and log(1 - s') of the diagonal is -inf (0 * -inf = NaN in the matmul).
    dtype = torch.promote_types(embeddings.dtype, torch.float32)
    with torch.autocast(embeddings.device.type, enabled=False):
        return _pce_mean(embeddings.to(dtype), probs.detach().to(dtype), image_labels,
                         theta, tau, n_low, eps)


def _pce_mean(embeddings: Tensor, probs: Tensor, image_labels: Tensor, theta: float,
              tau: float, n_low: Optional[int], eps: float) -> Tensor:
    """``patch_contrast_loss`` in the inputs' own precision."""
    z = F.normalize(embeddings.flatten(2), dim=1)  # B, D, N
    high, low = select_patches(probs.flatten(2), image_labels, theta, tau, n_low)
    sim = (1 + z.transpose(1, 2) @ z) / 2  # s' in [0, 1], B, N, N
    sim = sim.clamp(eps, 1 - eps)
    n = sim.shape[-1]
    off_diag = 1 - torch.eye(n, device=sim.device, dtype=sim.dtype)
    # Σ_{i≠j ∈ H} log s'(i,j) and Σ_{i∈H, j∈L} log(1 - s'(i,j)) per (b, c).
    pos = ((high @ (sim.log() * off_diag)) * high).sum(-1)
    neg = ((high @ (1 - sim).log()) * low).sum(-1)
    n_high = high.sum(-1)
    n_hh = n_high * (n_high - 1)
    n_hl = n_high * low.sum(-1)
    pce = -pos / n_hh.clamp_min(1) - neg / n_hl.clamp_min(1)
    valid = (n_high > 0).to(pce.dtype)
    return (pce * valid).sum() / valid.sum().clamp_min(1)


@MODELS.register_module()
class PatchContrastLoss(nn.Module):
    """L_pcl as a configurable loss (``loss_weight`` is w_pcl).

    ``forward(embeddings [B, D, H, W], probs [B, C+1, H, W],
    image_labels [B, C+1]) -> scalar``.

    Args:
        theta (float): High-confidence threshold θ. Defaults to 0.85.
        tau (float): Low-confidence threshold τ. Defaults to 0.1.
        n_low (int, optional): Use the ``n_low`` lowest-scoring patches as the
            low set instead of ``P < tau``.
        loss_weight (float): Defaults to 0.02.
        loss_name (str): Defaults to ``'loss_pcl'``.
    """

    def __init__(self, theta: float = 0.85, tau: float = 0.1,
                 n_low: Optional[int] = None, loss_weight: float = 0.02,
                 loss_name: str = 'loss_pcl'):
        super().__init__()
        self.theta = theta
        self.tau = tau
        self.n_low = n_low
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self, embeddings: Tensor, probs: Tensor, image_labels: Tensor) -> Tensor:
        return self.loss_weight * patch_contrast_loss(
            embeddings, probs, image_labels, self.theta, self.tau, self.n_low)

    @property
    def loss_name(self) -> str:
        return self._loss_name
