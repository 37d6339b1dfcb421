"""TextCachedConfig: yapf runs once per content, the text is mmengine's own."""
import os.path as osp

import mmengine.config.config as mmengine_config
import torch
from helpers import DEMO_CONFIG, tiny_cfg_options
from mmengine.config import Config

from apc_mmseg.engine import APCRunner
from apc_mmseg.utils.config_text import TextCachedConfig


def count_formatting(monkeypatch):
    calls = []
    original = mmengine_config.FormatCode

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(mmengine_config, 'FormatCode', counted)
    return calls


def test_the_text_is_mmengines_and_follows_a_change(monkeypatch):
    plain = Config.fromfile(DEMO_CONFIG)
    cached = TextCachedConfig.of(plain)
    calls = count_formatting(monkeypatch)
    assert cached.pretty_text == plain.pretty_text
    assert len(calls) == 2  # one each
    assert cached.pretty_text == plain.pretty_text
    assert len(calls) == 3  # the cached one did not format again
    cached.train_cfg.max_iters = 7
    assert 'max_iters=7' in cached.pretty_text  # a changed content is formatted anew
    assert len(calls) == 4
    assert TextCachedConfig.of(dict(a=1)).pretty_text == Config(dict(a=1)).pretty_text


def test_a_run_formats_its_config_once(monkeypatch, demo_data, tmp_path):
    """Log, work-dir copy, visualizer copy and two checkpoints: one yapf call
    (mmengine's Runner makes five)."""
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(dict(tiny_cfg_options(demo_data, max_iters=2),
                             **{'default_hooks.checkpoint.interval': 1,
                                'work_dir': str(tmp_path)}))
    cfg.global_batch_size = 1  # the runner changes the loader's batch in its own copy
    before = cfg.to_dict()
    calls = count_formatting(monkeypatch)
    torch.manual_seed(0)
    runner = APCRunner.from_cfg(cfg)
    runner.train()
    assert cfg.to_dict() == before and runner.cfg.train_dataloader.batch_size == 1
    assert osp.isfile(tmp_path / 'iter_1.pth') and osp.isfile(tmp_path / 'iter_2.pth')
    assert len(calls) == 1
    meta = torch.load(tmp_path / 'iter_2.pth', map_location='cpu', weights_only=False)['meta']
    assert meta['cfg'] == Config(runner.cfg.to_dict()).pretty_text  # yapf's text
    assert 'max_iters=2' in meta['cfg']
