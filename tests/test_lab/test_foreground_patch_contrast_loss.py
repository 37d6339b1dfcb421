import math
import subprocess
import sys

import pytest
import torch
from helpers import REPO
from helpers import pcl_inputs as inputs
from helpers import pcl_similarity as s
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from apc_lab.foreground_patch_contrast_loss import ForegroundPatchContrastLoss

CONFIG = f'{REPO}/configs/apc/apc_efficientnet-lite0_photo_cpu_pcl-fg.py'


def test_only_the_foreground_class_is_contrasted():
    # class 1: H = {0, 1} (P > 0.85), L = {2} (P < 0.1): -ln 0.8 for the
    # positive pair, (-ln 0.5 - ln 0.1) / 2 for the negatives; the background's own
    # term (H = {2}, L = {1}) is left out, and so is its place in the mean.
    want = -math.log(s(0.6)) - (math.log(1 - s(0.0)) + math.log(1 - s(0.8))) / 2
    args = inputs()
    got = ForegroundPatchContrastLoss(loss_weight=1.0)(*args)
    assert got.item() == pytest.approx(want, rel=1e-9)
    assert got.item() == pytest.approx(0.223144 + 1.497866, rel=1e-5)
    assert torch.equal(args[2], inputs()[2])  # the caller's labels untouched
    # the configs' loss contrasts the background too: a different value
    with_bg = MODELS.build(dict(type='PatchContrastLoss', loss_weight=1.0))(*inputs())
    assert with_bg.item() == pytest.approx((want - math.log(1 - s(0.8))) / 2, rel=1e-9)


def test_background_alone_gives_zero():
    assert ForegroundPatchContrastLoss()(*inputs(labels=(1.0, 0.0))).item() == 0.0


def test_its_config_builds_it_and_nothing_else_imports_it():
    cfg = Config.fromfile(CONFIG)
    init_default_scope('mmseg')
    model = MODELS.build(cfg.model)
    assert type(model.pcl_loss) is ForegroundPatchContrastLoss
    assert model.pcl_loss.tau == 0.1 and model.pcl_loss.loss_weight == 0.02
    # the plugin and the lab's figure-making modules do not load it, so it is
    # in no figure block's fingerprint but this comparison's
    code = ('import sys, apc_mmseg, apc_lab.demo, apc_lab.ablation, apc_lab.config_comparison; '
            "print('apc_lab.foreground_patch_contrast_loss' in sys.modules)")
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == 'False'
