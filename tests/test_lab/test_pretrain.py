"""The demo's pretrained ViT: the shipped checkpoint loads into the demo
config's backbone with every tensor used, and the objectives are recorded
(seeded: tests/test_tools/test_pretrain_demo_vit.py)."""
import hashlib
import os.path as osp

import numpy as np
import pytest
import torch
from helpers import DEMO_CONFIG, REPO, load_config
from mmseg.registry import MODELS

from apc_lab.pretrain import DEMO_CHECKPOINT, pretrain_backbone

SHIPPED = osp.join(REPO, DEMO_CHECKPOINT)


def test_the_shipped_checkpoint_is_the_recorded_one():
    with open(SHIPPED + '.sha256') as f:
        recorded = f.read().split()[0]
    with open(SHIPPED, 'rb') as f:
        assert hashlib.sha256(f.read()).hexdigest() == recorded
    meta = torch.load(SHIPPED, map_location='cpu', weights_only=True)['meta']
    assert meta['held_out_accuracy'] > 0.5  # chance: 1 / 24


def test_it_loads_into_the_demo_backbone_with_every_tensor_used():
    cfg = load_config(DEMO_CONFIG)
    assert osp.samefile(cfg.model.backbone.init_cfg.checkpoint, SHIPPED)
    shipped = torch.load(SHIPPED, map_location='cpu', weights_only=True)['state_dict']
    backbone = MODELS.build(cfg.model.backbone)
    own = backbone.state_dict()
    assert set(shipped) == set(own)  # no missing and no unexpected keys
    assert all(shipped[k].shape == own[k].shape for k in own)
    assert any(not torch.equal(shipped[k], own[k]) for k in own)  # random before
    backbone.init_weights()  # the config's own mechanism (mmengine's Pretrained)
    for k, v in backbone.state_dict().items():
        assert torch.equal(v, shipped[k]), k


def test_the_image_objective_is_recorded_and_an_unknown_one_refused(tmp_path):
    run = pretrain_backbone(DEMO_CONFIG, str(tmp_path / 'image.pth'), iters=1, batch_size=4,
                            num_images=24, objective='image', log=None)
    assert 0 <= run['held_out_accuracy'] <= 1
    state = torch.load(tmp_path / 'image.pth', map_location='cpu', weights_only=True)
    assert state['meta']['objective'] == 'image' and len(state['meta']['classes']) == 24
    with pytest.raises(ValueError, match="objective 'pixel'"):
        pretrain_backbone(DEMO_CONFIG, str(tmp_path / 'x.pth'), iters=1, num_images=24,
                          objective='pixel', log=None)
    assert not (tmp_path / 'x.pth').exists()


def test_patch_targets_are_the_fraction_of_each_label_in_the_patch():
    from apc_lab.pretrain import _patch_targets
    masks = np.zeros((1, 16, 8), np.uint8)  # two 8x8 patches, one above the other
    masks[0, :4, :] = 3  # the top patch: half class 3 (label 3), half the scene
    masks[0, 8:, :2] = 1  # the bottom one: a quarter label 1
    t = _patch_targets(masks, 4, 8)[0]  # [4 labels, 2, 1]
    assert t.shape == (4, 2, 1)
    assert t[:, 0, 0].tolist() == [0.5, 0, 0, 0.5]
    assert t[:, 1, 0].tolist() == [0.75, 0.25, 0, 0]
