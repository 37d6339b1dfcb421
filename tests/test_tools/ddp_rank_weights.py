"""Run under torchrun: train a tiny APC model through the warm-up boundary and
save each rank's final weights as ``<work_dir>/rank<R>.pth``. Run with tests/
on PYTHONPATH (conftest.tool_env)."""
import os
import sys

import torch
from mmengine.config import Config

from apc_mmseg.engine import APCRunner
from apc_mmseg.utils import finish_distributed


def main(config, work_dir, data_root):
    from helpers import tiny_cfg_options
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(tiny_cfg_options(data_root, max_iters=4))
    # Blocks 1-2 never train; blocks 3-4 are held at lr 0 until iteration 2.
    cfg.model.backbone.frozen_stages = 2
    cfg.optim_wrapper.paramwise_cfg = dict(custom_keys={'backbone': dict(delayed=True)})
    cfg.param_scheduler = [dict(type='UnfreezeStepLR', milestone=2, gamma=0.1, by_epoch=False)]
    cfg.train_cfg.val_interval = 100  # no validation in this check
    cfg.work_dir = work_dir
    cfg.launcher = 'pytorch'
    runner = APCRunner.from_cfg(cfg)
    runner.train()
    model = runner.model.module if hasattr(runner.model, 'module') else runner.model
    torch.save(model.state_dict(), os.path.join(work_dir, f"rank{os.environ['RANK']}.pth"))
    finish_distributed(runner)


if __name__ == '__main__':
    main(*sys.argv[1:4])
