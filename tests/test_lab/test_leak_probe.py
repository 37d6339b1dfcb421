"""The leak probe's parts against hand-made cases, and the whole probe on a
backbone that sees the mask."""
import numpy as np
import torch
from PIL import Image

from apc_lab import leak_probe


def test_two_means_splits_two_clouds():
    torch.manual_seed(0)
    x = torch.cat([torch.randn(30, 4) * 0.1, torch.randn(20, 4) * 0.1 + 3])
    ids = leak_probe.two_means(x)
    assert len(set(ids[:30].tolist())) == 1 and len(set(ids[30:].tolist())) == 1
    assert ids[0] != ids[-1]


def test_foreground_iou_takes_the_better_naming_and_ignores_255():
    clusters = np.zeros((4, 4))
    clusters[:2] = 1
    mask = np.zeros((4, 4), np.uint8)
    mask[:2, :3] = 3  # 6 foreground pixels, all in cluster 1 (8 pixels)
    mask[3, 3] = 255
    assert leak_probe.foreground_iou(clusters, mask) == 6 / 8
    assert leak_probe.foreground_iou(1 - clusters, mask) == 6 / 8  # either naming
    assert leak_probe.foreground_iou(np.zeros((4, 4)), np.zeros((4, 4), np.uint8)) == 0.0


def test_a_backbone_that_sees_the_mask_scores_one(tmp_path, monkeypatch):
    """A stand-in backbone whose feature is the image's red channel: on images
    whose objects alone are red, 2-means finds them exactly."""
    class Red(torch.nn.Module):
        def forward(self, x):
            return [torch.nn.functional.avg_pool2d(x[:, :1], 8)]

    monkeypatch.setattr(leak_probe, 'build_frozen_backbone',
                        lambda config, init: (Red(), ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (32, 32))))
    images, masks = [], []
    for i in range(3):
        img = np.zeros((32, 32, 3), np.uint8)
        mask = np.zeros((32, 32), np.uint8)
        img[8 * i:8 * i + 16, 8:24, 0] = 200
        mask[8 * i:8 * i + 16, 8:24] = 1
        Image.fromarray(img).save(tmp_path / f'{i}.png')
        Image.fromarray(mask).save(tmp_path / f'{i}_m.png')
        images.append(str(tmp_path / f'{i}.png'))
        masks.append(str(tmp_path / f'{i}_m.png'))
    result = leak_probe.probe('unused.py', images, masks)
    assert result == dict(mean=100.0, sem=0.0, n=3)
