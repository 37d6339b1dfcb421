"""Pretrain the demo's ViT on the generated pretraining world (``pretrain_data``)
from image tags, as ImageNet classification does from image labels: a linear
classifier over the mean of the last feature map, one sigmoid a class
(multi-label, binary cross-entropy against the image's tags). No mask, no
patch target: nothing tells the backbone where an object is.

The backbone is the config's own (``model.backbone``), so the checkpoint's
keys are exactly what ``init_cfg=dict(type='Pretrained', checkpoint=...)``
loads into it, as a converted ViT-B/16 loads into the VOC config; the
classifier is thrown away. Seeded: the same command on the same torch build
and thread count writes the same bytes.
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
from apc_mmseg.utils.checkpoint import load_checkpoint_file

from .pretrain_data import CLASSES, make_pretrain_set

# Where the demo configs find the shipped checkpoint (from the repository root).
DEMO_CHECKPOINT = 'apc_lab/pretrained/demo_vit_tags.pth'


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


def _held_out_figures(backbone, classifier, images: Tensor, tags: Tensor,
                      batch: int = 256) -> dict:
    """Held-out ``exact_match`` (images whose predicted tag set, sigmoid >
    0.5, is their tag set) and ``mAP`` (mean over classes of the average
    precision of the class's scores)."""
    backbone.eval()
    with torch.no_grad():
        logits = torch.cat([classifier(backbone(images[i:i + batch])[-1].mean((2, 3)))
                            for i in range(0, len(images), batch)])
    backbone.train()
    exact = ((logits > 0) == (tags > 0)).all(1).float().mean().item()
    order = logits.argsort(0, descending=True)
    hits = tags.gather(0, order)
    precision = hits.cumsum(0) / torch.arange(1, len(tags) + 1)[:, None]
    ap = (precision * hits).sum(0) / hits.sum(0).clamp_min(1)
    return dict(exact_match=exact, mAP=ap.mean().item())


def _data(num_images: int, seed: int):
    images, tags = make_pretrain_set(num_images, seed)
    return _normalise(images), torch.from_numpy(tags)


def pretrain_backbone(config: str, out: str, iters: int = 3000, batch_size: int = 32,
                      num_images: int = 9600, lr: float = 1e-3, seed: int = 0,
                      log=print) -> dict:
    """Train ``config``'s backbone on the pretraining world from its tags,
    write its ``state_dict`` (and a ``meta`` record) to ``out`` and its
    SHA-256 to ``out + '.sha256'``; returns the run's figures (held-out
    exact match and mAP, seconds, the file's SHA-256). AdamW (weight decay
    0.05), a linear warm-up over the first tenth, then cosine decay; random
    horizontal flips."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    backbone = build_backbone(config)
    classifier = nn.Linear(backbone.embed_dims, len(CLASSES))
    images, tags = _data(num_images, seed)
    val_images, val_tags = _data(len(CLASSES) * 20, seed + 10 ** 6)
    params = list(backbone.parameters()) + list(classifier.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.05)
    warmup = max(1, iters // 10)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda i: min(
        (i + 1) / warmup, 0.5 * (1 + np.cos(np.pi * min(i, iters) / iters))))
    order = torch.Generator().manual_seed(seed)
    backbone.train()
    for it in range(iters):
        idx = torch.randint(len(images), (batch_size,), generator=order)
        flip = torch.rand(batch_size, generator=order) < 0.5
        x = torch.where(flip[:, None, None, None], images[idx].flip(3), images[idx])
        logits = classifier(backbone(x)[-1].mean((2, 3)))
        loss = F.binary_cross_entropy_with_logits(logits, tags[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if log and (it + 1) % 100 == 0:
            log(f'iter {it + 1}/{iters}: loss {loss.item():.4f}')
    held_out = _held_out_figures(backbone, classifier, val_images, val_tags)
    meta = dict(classes=list(CLASSES), objective='tags', iters=iters, batch_size=batch_size,
                num_images=num_images, lr=lr, seed=seed, **held_out,
                torch=str(torch.__version__), threads=torch.get_num_threads())
    buffer = io.BytesIO()
    torch.save(dict(meta=meta, state_dict=backbone.state_dict()), buffer)
    data = buffer.getvalue()
    sha256 = hashlib.sha256(data).hexdigest()
    AtomicLocalBackend().put(data, out)
    # beside it, in sha256sum's format (`sha256sum -c` checks it)
    AtomicLocalBackend().put(f'{sha256}  {os.path.basename(out)}\n'.encode(), out + '.sha256')
    return dict(meta, seconds=time.perf_counter() - t0, sha256=sha256, bytes=len(data))


def pretraining_table(paths) -> str:
    """Markdown: one row per checkpoint, its recorded seed, iterations,
    images and held-out exact match / mAP (%)."""
    lines = ['| checkpoint (SHA-256, first 12) | seed | iterations x batch | images | '
             'held-out exact match | held-out mAP |', '|---|---|---|---|---|---|']
    for path in paths:
        meta = load_checkpoint_file(path, map_location='cpu')['meta']
        with open(path, 'rb') as f:
            sha = hashlib.sha256(f.read()).hexdigest()[:12]
        lines.append(f"| `{os.path.basename(path)}` ({sha}) | {meta['seed']} | "
                     f"{meta['iters']} x {meta['batch_size']} | {meta['num_images']} | "
                     f"{100 * meta['exact_match']:.1f} | {100 * meta['mAP']:.1f} |")
    return '\n'.join(lines)
