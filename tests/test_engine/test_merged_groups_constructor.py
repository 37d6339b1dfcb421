"""The paper schedule's optimizer: two parameter groups instead of one per
tensor, every parameter with the settings mmengine's constructor gives it."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmseg.registry import MODELS

from apc_mmseg.engine import guard_optim_wrapper

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def settings_per_parameter(wrapper):
    return {id(p): {k: v for k, v in g.items() if k != 'params'}
            for g in wrapper.optimizer.param_groups for p in g['params']}


def test_two_groups_with_mmengines_settings():
    cfg = Config.fromfile(osp.join(REPO, 'configs/apc/apc_vitb16_voc.py'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    guard_optim_wrapper(cfg.optim_wrapper, cfg.nonfinite_guard)  # as APCRunner does
    merged = build_optim_wrapper(model, cfg.optim_wrapper)
    assert cfg.optim_wrapper.constructor == 'MergedGroupsOptimWrapperConstructor'
    per_tensor = build_optim_wrapper(
        model, dict(cfg.optim_wrapper, constructor='DefaultOptimWrapperConstructor'))

    groups = merged.optimizer.param_groups
    assert len(groups) == 2 and len(per_tensor.optimizer.param_groups) > 90
    assert [bool(g.get('delayed')) for g in groups] == [True, False]
    # Every trainable backbone tensor is held, nothing else is (mmengine
    # leaves out frozen tensors, blocks 1-7, with or without merging).
    held = {id(p) for p in groups[0]['params']}
    assert held == {id(p) for p in model.backbone.parameters() if p.requires_grad}
    assert settings_per_parameter(merged) == settings_per_parameter(per_tensor)
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(len(g['params']) for g in groups) == len(trainable) == 96


def test_groups_differing_in_any_option_stay_apart():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    wrapper = build_optim_wrapper(model, dict(
        constructor='MergedGroupsOptimWrapperConstructor',
        optimizer=dict(type='SGD', lr=0.1, weight_decay=1e-4),
        paramwise_cfg=dict(bias_decay_mult=0.0, custom_keys={'1.': dict(lr_mult=10)})))
    got = sorted((g['lr'], g['weight_decay'], len(g['params']))
                 for g in wrapper.optimizer.param_groups)
    # mmengine: a custom key's settings replace bias_decay_mult for its tensors
    assert got == [(0.1, 0.0, 1), (0.1, 1e-4, 1), (1.0, 1e-4, 2)]
