"""The patch contrast without the background channel: one side of a
pre-registered comparison (docs/ablations.md), not a default.

Lab only, and imported only by the config that uses it
(``configs/apc/apc_efficientnet-lite0_photo_cpu_pcl-fg.py``, through
``custom_imports``): no other process loads it, so it enters no other figure
block's fingerprint and adding it leaves those blocks standing.
"""
from mmseg.registry import MODELS
from torch import Tensor

from apc_mmseg.models.losses.patch_contrast_loss import PatchContrastLoss


@MODELS.register_module()
class ForegroundPatchContrastLoss(PatchContrastLoss):
    """``PatchContrastLoss`` over the tagged foreground classes only.

    ``forward(embeddings [B, D, H, W], probs [B, C+1, H, W],
    image_labels [B, C+1]) -> scalar``. Channel 0 (background, tagged on
    every image) is untagged first, so its (image, background) pairs neither
    contribute a PCE term nor count in the mean.
    """

    def forward(self, embeddings: Tensor, probs: Tensor, image_labels: Tensor) -> Tensor:
        foreground = image_labels.clone()
        foreground[:, 0] = 0
        return super().forward(embeddings, probs, foreground)
