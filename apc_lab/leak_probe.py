"""The leak probe: how well a frozen backbone already separates objects from
the background before any training on tags.

For each image, the backbone's feature map (the level the APC neck reads) is
split into two clusters by 2-means (cosine: features L2-normalised); the
cluster map, upsampled to the image (nearest), is scored as foreground /
background against the mask, with the better of the two ways of naming the
clusters. The figure is the mean over images of the foreground IoU. A
backbone that learnt where objects are from masks of the demo's own world
scores high on the demo sets with random weights scoring low; an ImageNet
classifier scores what ImageNet taught it about objects.
"""
from typing import Dict

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS
from PIL import Image
from torch import Tensor


def two_means(x: Tensor, iters: int = 20) -> Tensor:
    """Cluster ids ``[N]`` (0/1) of ``x [N, C]`` by 2-means, started from the
    point farthest from the mean and the point farthest from that one."""
    first = x[(x - x.mean(0)).norm(dim=1).argmax()]
    centres = torch.stack([first, x[(x - first).norm(dim=1).argmax()]])
    for _ in range(iters):
        ids = torch.cdist(x, centres).argmin(1)
        for k in range(2):
            if (ids == k).any():
                centres[k] = x[ids == k].mean(0)
    return ids


def foreground_iou(clusters: np.ndarray, mask: np.ndarray) -> float:
    """IoU of the foreground (``mask > 0``, ignoring 255) with the better of
    the two namings of ``clusters`` (0/1 arrays of the mask's shape)."""
    valid = mask != 255
    fg = (mask > 0) & valid
    best = 0.0
    for named in (clusters == 1, clusters == 0):
        named = named & valid
        union = (named | fg).sum()
        best = max(best, float((named & fg).sum() / union) if union else 0.0)
    return best


def build_frozen_backbone(config: str, checkpoint_init: bool = True):
    """The config's backbone and data preprocessor (mean, std, input size),
    loaded by its ``init_cfg`` unless ``checkpoint_init=False`` (random)."""
    cfg = Config.fromfile(config)
    if not checkpoint_init:
        cfg.model.backbone.init_cfg = None
    torch.manual_seed(0)
    backbone = MODELS.build(cfg.model.backbone)
    backbone.init_weights()
    backbone.eval()
    pre = cfg.model.data_preprocessor
    return backbone, (pre.mean, pre.std, tuple(pre.size))


def probe(config: str, images, masks, checkpoint_init: bool = True) -> Dict[str, float]:
    """Mean and standard error of the foreground IoU over ``images`` (paths)
    with their ``masks`` (paths) for ``config``'s frozen backbone."""
    backbone, (mean, std, size) = build_frozen_backbone(config, checkpoint_init)
    mean, std = torch.tensor(mean)[:, None, None], torch.tensor(std)[:, None, None]
    scores = []
    for image, mask in zip(images, masks):
        img = torch.from_numpy(np.array(Image.open(image).convert('RGB'))).permute(2, 0, 1)
        x = F.interpolate(((img.float() - mean) / std)[None], size, mode='bilinear',
                          align_corners=False)
        with torch.no_grad():
            feats = backbone(x)[-1][0]  # [C, h, w]
        c, h, w = feats.shape
        ids = two_means(F.normalize(feats.reshape(c, -1).T, dim=1)).reshape(1, 1, h, w)
        gt = np.array(Image.open(mask))
        up = F.interpolate(ids.float(), gt.shape, mode='nearest')[0, 0].numpy()
        scores.append(foreground_iou(up, gt))
    scores = np.array(scores)
    return dict(mean=100 * float(scores.mean()),
                sem=100 * float(scores.std(ddof=1) / np.sqrt(len(scores))), n=len(scores))
