"""Fixtures (shared helpers: helpers.py)."""
import os.path as osp
import sys

import pytest
import torch
from helpers import (
    DEMO_CONFIG,
    DEVICES,
    REPO,
    cfg_options_argv,
    free_port,
    run,
    tiny_cfg_options,
    tool_env,
)
from mmseg.utils import register_all_modules

import apc_mmseg  # noqa: F401  (registers components)

register_all_modules(init_default_scope=True)  # configs' default_scope = 'mmseg'


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """A small VOC-layout weak-label data set (16 train, 4 val images)."""
    from apc_mmseg.datasets.demo_data import generate
    return generate(str(tmp_path_factory.mktemp('demo_data')), num_train=16, num_val=4, seed=0)


@pytest.fixture
def tiny_options(demo_data):
    return tiny_cfg_options(demo_data)


@pytest.fixture(scope='session')
def trained(tmp_path_factory, demo_data):
    """tools/dist_train.sh with 2 CPU processes; returns (work_dir, checkpoint)."""
    work_dir = str(tmp_path_factory.mktemp('dist_train'))
    env = tool_env()
    env.update(PORT=str(free_port()), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    options = tiny_cfg_options(demo_data, max_iters=4)
    log = run(['bash', 'tools/dist_train.sh', DEMO_CONFIG, '2', '--work-dir', work_dir]
              + cfg_options_argv(options), env)
    ckpt = osp.join(work_dir, 'iter_4.pth')
    assert osp.isfile(ckpt), log[-3000:]
    return work_dir, ckpt, options
