"""Run under torchrun (1 or 2 ranks): validate a checkpoint of the demo config
(IoUMetric + WSSSMetric on 4 val and 15 training images: 19 samples, so the
sampler pads one rank) and write the metrics to OUT from rank 0. Run with
tests/ on PYTHONPATH (conftest.tool_env)."""
import json
import sys

from mmengine.config import Config
from mmengine.dist import get_rank

from apc_mmseg.engine import APCRunner
from apc_mmseg.utils import finish_distributed


def main(config, checkpoint, data_root, work_dir, out):
    from helpers import tiny_cfg_options
    cfg = Config.fromfile(config)
    cfg.merge_from_dict(tiny_cfg_options(data_root))
    cfg.val_dataloader.dataset.num_train = 15
    # mmengine's CheckpointHook can keep a best checkpoint only while training
    cfg.default_hooks.checkpoint.save_best = None
    cfg.load_from, cfg.work_dir, cfg.launcher = checkpoint, work_dir, 'pytorch'
    runner = APCRunner.from_cfg(cfg)
    metrics = runner.val()
    if get_rank() == 0:
        with open(out, 'w') as f:
            json.dump({k: float(v) for k, v in metrics.items()}, f)
    finish_distributed(runner)


if __name__ == '__main__':
    main(*sys.argv[1:6])
