"""The configs train under mmengine's own ``Runner.from_cfg``; what only
APCRunner adds is then missing, and the log says so."""
from helpers import load_config, mmlogger_records, tiny_cfg_options
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from apc_mmseg.engine import APCRunner, NonFiniteGuard

CONFIG = 'configs/apc/apc_demo_cpu.py'


def tiny_cfg(demo_data, tmp_path):
    cfg = load_config(CONFIG)
    cfg.merge_from_dict(dict(tiny_cfg_options(demo_data, max_iters=2),
                             **{'train_dataloader.batch_size': 1}))  # global 2: APCRunner's
    cfg.work_dir = str(tmp_path)
    return cfg


def test_runner_from_cfg_trains_the_demo_config_and_says_what_it_lacks(demo_data, tmp_path):
    runner = Runner.from_cfg(tiny_cfg(demo_data, tmp_path))
    assert type(runner) is Runner
    with mmlogger_records() as records:
        runner.train()
    assert (tmp_path / 'iter_2.pth').is_file()
    text = ' '.join(r.getMessage() for r in records)
    assert "nonfinite_guard={'nonfinite': 'skip'} is not applied: this run was built by " \
        'Runner, not APCRunner' in text
    assert 'global_batch_size=2 is not applied' in text and 'takes 1 images a step' in text


def test_the_registry_builds_apc_runner_with_both_applied(demo_data, tmp_path):
    runner = RUNNERS.build(tiny_cfg(demo_data, tmp_path))
    assert isinstance(runner, APCRunner)
    with mmlogger_records() as records:
        runner.train()
    assert isinstance(runner.optim_wrapper, NonFiniteGuard)
    assert runner.train_dataloader.batch_size == 2
    assert 'is not applied' not in ' '.join(r.getMessage() for r in records)
