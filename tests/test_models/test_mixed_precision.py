"""The training step under bf16 autocast (what `--amp` does on a GPU), with
the patch contrast loss active: every loss finite and close to fp32, every
trainable tensor gets a finite, non-zero gradient."""
import os.path as osp

import pytest
import torch
from helpers import batch
from mmengine.config import Config
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# bf16 keeps 8 bits of mantissa (relative step 2^-8 = 0.4%). Through a
# randomly initialised 12-block ViT the features drift by a few per cent, and
# the sharpened classifier below amplifies that in loss_cls: 2.7% for ViT-B/16,
# 0.4% for the demo's small ViT in our runs (loss_pcl and loss_seg: < 1%).
# 5% leaves room without hiding a broken loss (NaN/inf, or 0 instead of > 0).
RTOL = 0.05


def build(config, size, device):
    cfg = Config.fromfile(osp.join(REPO, config)).model
    cfg.backbone.init_cfg = None
    cfg.data_preprocessor.size = size
    torch.manual_seed(0)
    model = MODELS.build(cfg).to(device)
    with torch.no_grad():
        # Sharper patch scores and θ = 0.5: labelled classes have patches above
        # θ and below τ, so both PCL sets are non-empty and loss_pcl > 0.
        model.weak_head.classifier.weight.mul_(20)
    model.pcl_loss.theta = 0.5
    return model


def step(model, data, device, dtype):
    model.zero_grad(set_to_none=True)
    torch.manual_seed(1)  # the same dropout masks in both precisions
    with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
        losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    return {k: v.detach().float() for k, v in losses.items()}, grads


@pytest.mark.parametrize('config,size', [
    ('configs/apc/apc_vitb16_voc.py', (64, 64)),
    ('configs/apc/apc_demo_cpu.py', (64, 64)),
])
def test_bf16_autocast_step_matches_fp32(config, size, device):
    model = build(config, size, device)
    C = model.num_classes
    labels = [[1, 1] + [0] * (C - 2), [1, 0, 1] + [0] * (C - 3)]
    data = model.data_preprocessor(batch(size=size, labels=labels), True)
    data = dict(inputs=data['inputs'].to(device), data_samples=data['data_samples'])
    ref, _ = step(model, data, device, torch.float32)
    low, grads = step(model, data, device, torch.bfloat16)
    assert ref['loss_pcl'] > 0, 'the PCL sets are empty: the test would not see a broken PCL'
    for key in ('loss_cls', 'loss_pcl', 'loss_seg'):
        assert torch.isfinite(low[key]), f'{key} is {low[key].item()} under bf16'
        torch.testing.assert_close(low[key], ref[key], rtol=RTOL, atol=1e-6,
                                   msg=lambda m: f'{key}: {m}')
    bad = [n for n, g in grads.items()
           if g is None or not torch.isfinite(g).all() or g.abs().max() == 0]
    assert bad == [], f'no, non-finite or all-zero gradient under bf16: {bad[:5]}'
