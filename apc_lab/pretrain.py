"""Pretrain the demo's ViT on the generated pretraining world (``pretrain_data``),
supervised, with one of two objectives:

- ``'image'``: image classification, as ImageNet pretraining (a linear
  classifier over the mean of the last feature map, 24 classes);
- ``'patch'`` (the default): every patch token classifies what lies under it,
  one of the 24 classes or the scene (a 1x1 classifier on the last feature map
  against the fraction of each class in the patch).

On this small world image classification teaches the four global-attention
blocks to spread the image's class over every token: the demo fine-tuned from
it found no object (docs/pretrained_demo.md), so the shipped checkpoint uses
the patch objective. The backbone is the config's own (``model.backbone``), so
the checkpoint's keys are exactly what ``init_cfg=dict(type='Pretrained',
checkpoint=...)`` loads into it, as a converted ViT-B/16 loads into the VOC
config; the classifier is thrown away. Seeded: the same command on the same
torch build and thread count writes the same bytes.
"""
import hashlib
import io
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS
from torch import Tensor, nn

from apc_mmseg.utils import AtomicLocalBackend

from .pretrain_data import CLASSES, make_pretrain_set

# Where the demo configs find the shipped checkpoint (from the repository root).
DEMO_CHECKPOINT = 'apc_lab/pretrained/demo_vit_generated.pth'


def build_backbone(config: str) -> nn.Module:
    """The config's backbone, randomly initialised (no pretrained weights)."""
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    return backbone


def _normalise(images: np.ndarray) -> Tensor:
    """uint8 RGB ``[N, H, W, 3]`` -> ``[N, 3, H, W]`` in [-1, 1], as the demo
    config's data preprocessor (mean = std = 127.5)."""
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() - 127.5) / 127.5


def _patch_targets(masks: np.ndarray, num_classes: int, patch: int) -> Tensor:
    """``[N, K, h, w]``: the fraction of each of ``K`` labels (the scene and
    the classes) in each ``patch x patch`` patch of ``masks [N, H, W]``."""
    one_hot = F.one_hot(torch.from_numpy(masks).long(), num_classes).permute(0, 3, 1, 2)
    return F.avg_pool2d(one_hot.float(), patch)


class _Objective(nn.Module):
    """The thrown-away classifier: ``'image'`` (GAP + linear
    over the classes) or ``'patch'`` (1x1 conv over the scene and classes)."""

    def __init__(self, name: str, channels: int, num_classes: int):
        super().__init__()
        if name not in ('image', 'patch'):
            raise ValueError(f"pretraining objective {name!r}: choose 'image' or 'patch'")
        self.objective = name
        self.classifier = nn.Conv2d(channels, num_classes + (name == 'patch'), 1)

    def forward(self, feats: Tensor) -> Tensor:
        """``[B, C, h, w]`` -> ``[B, K]`` (image) or ``[B, K + 1, h, w]`` (patch)."""
        if self.objective == 'image':
            return self.classifier(feats.mean((2, 3), keepdim=True)).flatten(1)
        return self.classifier(feats)

    def accuracy(self, logits: Tensor, target: Tensor) -> float:
        """Images (or patches) whose top class is the target's."""
        return float((logits.argmax(1) == target.argmax(1) if self.objective == 'patch'
                      else logits.argmax(1) == target).float().mean())


def _held_out_accuracy(backbone, objective, images: Tensor, targets: Tensor,
                       batch: int = 256) -> float:
    backbone.eval()
    with torch.no_grad():
        logits = torch.cat([objective(backbone(images[i:i + batch])[-1])
                            for i in range(0, len(images), batch)])
    backbone.train()
    return objective.accuracy(logits, targets)


def _data(num_images: int, seed: int, objective: str, patch: int):
    """Normalised images and their targets (class ids, or patch fractions)."""
    images, labels, masks = make_pretrain_set(num_images, seed)
    targets = _patch_targets(masks, len(CLASSES) + 1, patch) if objective == 'patch' \
        else torch.from_numpy(labels)
    return _normalise(images), targets


def pretrain_backbone(config: str, out: str, iters: int = 1500, batch_size: int = 32,
                      num_images: int = 4800, lr: float = 1e-3, seed: int = 0,
                      objective: str = 'patch', log=print) -> dict:
    """Train ``config``'s backbone on the pretraining world with ``objective``
    (``'patch'`` or ``'image'``), write its ``state_dict`` (and a ``meta``
    record) to ``out`` and its SHA-256 to ``out + '.sha256'``; returns the
    run's figures (held-out accuracy of images or patches, seconds, the
    file's SHA-256). AdamW (weight decay
    0.05), a linear warm-up over the first tenth, then cosine decay; random
    horizontal flips."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    backbone = build_backbone(config)
    head = _Objective(objective, backbone.embed_dims, len(CLASSES))
    patch = backbone.patch_embed.projection.stride[0]
    images, targets = _data(num_images, seed, objective, patch)
    val_images, val_targets = _data(len(CLASSES) * 20, seed + 10 ** 6, objective, patch)
    params = list(backbone.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    warmup = max(1, iters // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: min(
        (i + 1) / warmup, 0.5 * (1 + np.cos(np.pi * min(i, iters) / iters))))
    order = torch.Generator().manual_seed(seed)
    backbone.train()
    for it in range(iters):
        idx = torch.randint(len(images), (batch_size,), generator=order)
        flip = torch.rand(batch_size, generator=order) < 0.5
        x, y = images[idx], targets[idx]
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
        if objective == 'patch':
            y = torch.where(flip[:, None, None, None], y.flip(3), y)
        loss = F.cross_entropy(head(backbone(x)[-1]), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if log and (it + 1) % 100 == 0:
            log(f'iter {it + 1}/{iters}: loss {loss.item():.3f}')
    accuracy = _held_out_accuracy(backbone, head, val_images, val_targets)
    meta = dict(classes=list(CLASSES), objective=objective, iters=iters, batch_size=batch_size,
                num_images=num_images, lr=lr, seed=seed, held_out_accuracy=accuracy,
                torch=str(torch.__version__), threads=torch.get_num_threads())
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=backbone.state_dict()), buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    AtomicLocalBackend().put(data, out)
    # beside it, in sha256sum's format (`sha256sum -c` checks it)
    AtomicLocalBackend().put(f'{sha256}  {os.path.basename(out)}\n'.encode(), out + '.sha256')
    return dict(meta, seconds=time.perf_counter() - t0, sha256=sha256, bytes=len(data))
