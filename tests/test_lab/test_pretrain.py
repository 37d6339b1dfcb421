"""The demo's pretrained ViT: the shipped checkpoint loads into the demo
config's backbone with every tensor used, and the objectives are recorded
(seeded: tests/test_tools/test_pretrain_demo_vit.py)."""
import hashlib
import os.path as osp

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
    assert meta['objective'] == 'tags' and meta['mAP'] > 0.5


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


def test_the_held_out_figures_are_exact_match_and_map():
    from apc_lab.pretrain import _held_out_figures

    class Tokens(torch.nn.Module):  # the "backbone": each image's logits as a 1x1 map
        def forward(self, x):
            return [x[:, :, None, None]]

    tags = torch.tensor([[1., 0.], [0., 1.], [1., 1.], [0., 0.]])
    logits = torch.tensor([[2., -1.], [-1., 3.], [1., -2.], [-3., 0.5]])
    figures = _held_out_figures(Tokens(), torch.nn.Identity(), logits, tags)
    # exact sets: images 0 and 1 (2 misses class 1, 3 predicts class 1)
    assert figures['exact_match'] == 0.5
    # class 0: scores 2, 1 are its positives, ranked 1st and 2nd: AP 1.
    # class 1: ranking 3 (+), 0.5 (-), -1 (-), -2 (+): AP (1/1 + 2/4) / 2 = 0.75
    assert figures['mAP'] == pytest.approx((1 + 0.75) / 2)


def test_the_tags_objective_is_recorded(tmp_path):
    run = pretrain_backbone(DEMO_CONFIG, str(tmp_path / 'tags.pth'), iters=1, batch_size=4,
                            num_images=24, log=None)
    assert 0 <= run['exact_match'] <= 1 and 0 <= run['mAP'] <= 1
    state = torch.load(tmp_path / 'tags.pth', map_location='cpu', weights_only=True)
    assert state['meta']['objective'] == 'tags' and len(state['meta']['classes']) == 24
