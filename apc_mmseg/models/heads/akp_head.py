from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..layers import UniformMaskDropout


def clip_bce(probs: Tensor, targets: Tensor, eps: float = 1e-7) -> Tensor:
    """Mean binary cross-entropy on probabilities clipped to [eps, 1 - eps].

    Computed in float32 (at least) with autocast off: 1 - 1e-7 is 1 in
    bf16/fp16, and log(0) would be -inf.
    """
    dtype = torch.promote_types(probs.dtype, torch.float32)
    with torch.autocast(probs.device.type, enabled=False):
        probs = probs.to(dtype).clamp(eps, 1 - eps)
        targets = targets.to(dtype)
        return -(targets * probs.log() + (1 - targets) * (1 - probs).log()).mean()


@MODELS.register_module()
class AKPHead(BaseModule):
    """Weak-label head: patch classifier, image pooling, L_cls, pseudo labels.

    ``forward``: level ``in_index`` ``[B, D, H, W]`` -> patch probabilities
    ``P [B, C+1, H, W]`` (softmax over classes per patch; channel 0 is the
    background). ``loss_by_probs``: ``P`` and multi-hot ``image_labels [B, C+1]`` ->
    ``{loss_name: L_cls}`` (docs/method.md, L_cls). ``pseudo_labels``: ``P`` -> pixel
    labels ``[B, h, w]`` (docs/method.md, pseudo labels).

    Args:
        in_channels (int): D.
        num_classes (int): C + 1, background included.
        dropout (float): Dropout before the classifier. Defaults to 0.2.
        pooling (dict): a registered pooling, ``[B, C+1, H, W] -> [B, C+1]``:
            ``AdaptiveKPooling`` (default), ``GlobalMaxPooling``,
            ``GlobalAvgPooling``, ``FixedKPooling``.
        loss_weight (float): w_cls. Defaults to 1.0.
        loss_name (str): The key of L_cls in the losses. Defaults to
            ``'loss_cls'``.
        l2_weight (float): ViT-PCM's classifier penalty ``l2_weight * ΣW²``;
            0 (off) by default.
        in_index (int): Which input level to classify. Defaults to -1.
        ignore_index (int): Label of padded pixels. Defaults to 255.
        pseudo_label (str): How ``pseudo_labels`` picks each patch's class:
            ``'class_merge'`` (default; ViT-PCM's practice: the image's tags
            only, each class divided by its maximum, then argmax) or
            ``'argmax'`` (the paper's wording: the patch's predicted class,
            the argmax of P over all classes). docs/method.md has the figures.
    """

    PSEUDO_LABELS = ('class_merge', 'argmax')

    def __init__(self,
                 in_channels: int,
                 num_classes: int,
                 dropout: float = 0.2,
                 pooling: dict = dict(type='AdaptiveKPooling', k_max=6, delta=0.2,
                                      criterion='gap'),
                 loss_weight: float = 1.0,
                 l2_weight: float = 0.0,
                 in_index: int = -1,
                 ignore_index: int = 255,
                 pseudo_label: str = 'class_merge',
                 loss_name: str = 'loss_cls',
                 init_cfg=dict(type='Normal', layer='Conv2d', std=0.01)):
        super().__init__(init_cfg)
        if pseudo_label not in self.PSEUDO_LABELS:
            raise ValueError(f'pseudo_label must be one of {self.PSEUDO_LABELS}, '
                             f'got {pseudo_label!r}')
        self.pseudo_label = pseudo_label
        self.loss_name = loss_name
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.in_index = in_index
        self.ignore_index = ignore_index
        self.loss_weight = loss_weight
        self.l2_weight = l2_weight
        self.dropout = UniformMaskDropout(dropout)
        self.classifier = nn.Conv2d(in_channels, num_classes, 1, bias=False)
        self.pooling = MODELS.build(pooling)

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Patch probabilities ``[B, C+1, H, W]``."""
        x = inputs[self.in_index]
        # float32 under autocast (a 1x1 conv to C+1 channels: nothing to save):
        # θ, δ and the pooling's gaps are finer than bf16's steps.
        x = self.dropout(x)
        with torch.autocast(x.device.type, enabled=False):
            dtype = torch.promote_types(x.dtype, torch.float32)
            return self.classifier(x.to(dtype)).softmax(dim=1)

    def loss_by_probs(self, probs: Tensor, image_labels: Tensor) -> dict:
        """L_cls (and the optional L2 term) from ``P`` and ``[B, C+1]`` labels."""
        scores = self.pooling(probs)
        loss = clip_bce(scores, image_labels)
        if self.l2_weight:
            loss = loss + self.l2_weight * self.classifier.weight.pow(2).sum()
        return {self.loss_name: self.loss_weight * loss}

    @staticmethod
    def class_merge(probs: Tensor, image_labels: Optional[Tensor]) -> Tensor:
        """Keep the classes in the label and scale each to a maximum of 1.

        ``[B, C+1, H, W]``, ``[B, C+1]`` -> ``[B, C+1, H, W]``; absent classes
        become -1 so they can never win an argmax.
        """
        peak = probs.amax(dim=(2, 3), keepdim=True).clamp_min(1e-12)
        scaled = probs / peak
        if image_labels is None:
            return scaled
        present = image_labels[:, :, None, None] > 0
        return scaled.masked_fill(~present, -1.0)

    @torch.no_grad()
    def pseudo_labels(self, probs: Tensor, image_labels: Tensor,
                      out_size: Sequence[int],
                      valid_sizes: Optional[Sequence[Sequence[int]]] = None) -> Tensor:
        """Patch-to-pixel pseudo labels ``[B, h, w]`` (long), detached.

        Each patch's class fills its pixels (nearest upsampling to
        ``out_size``); pixels outside ``valid_sizes[b]`` (padding) get
        ``ignore_index``.
        """
        probs = probs.detach()
        if self.pseudo_label == 'class_merge':
            probs = self.class_merge(probs, image_labels)
        labels = probs.argmax(dim=1)
        labels = F.interpolate(labels[:, None].float(), size=tuple(out_size),
                               mode='nearest')[:, 0].long()
        # Skip the mask (and its host-to-device copy) when nothing is padded,
        # as with the fixed-size training crops.
        if valid_sizes is not None and any(
                tuple(v) != tuple(out_size) for v in valid_sizes):
            h, w = out_size
            valid = torch.tensor(valid_sizes, device=labels.device)  # [B, 2]
            rows = torch.arange(h, device=labels.device)[None, :, None] < valid[:, 0, None, None]
            cols = torch.arange(w, device=labels.device)[None, None, :] < valid[:, 1, None, None]
            labels = labels.masked_fill(~(rows & cols), self.ignore_index)
        return labels
