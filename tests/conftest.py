"""Fixtures (shared helpers: helpers.py)."""
import gc
import os.path as osp
import sys

import pytest
import torch
from helpers import (
    DEMO_CONFIG,
    DEVICES,
    REPO,
    build_once,
    call_tool,
    cfg_options_argv,
    free_port,
    run,
    tiny_cfg_options,
    tool_env,
)
from mmseg.utils import register_all_modules

import apc_mmseg  # noqa: F401  (registers components)

register_all_modules(init_default_scope=True)  # configs' default_scope = 'mmseg'


def pytest_collection_finish(session):
    """Move what the imports made out of the collector's reach: mmengine's
    datasets call gc.collect() on every build, which otherwise walks torch's,
    mmseg's and the tests' modules each time (~0.4 s a call here)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


@pytest.fixture(scope='session')
def repo_root():
    return REPO


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """A small VOC-layout weak-label data set (16 train, 4 val images)."""
    from apc_lab.demo_data import generate
    return str(build_once(tmp_path_factory, 'demo_data',
                          lambda folder: generate(str(folder), num_train=16, num_val=4, seed=0)))


@pytest.fixture
def tiny_options(demo_data):
    return tiny_cfg_options(demo_data)


@pytest.fixture(scope='session')
def trained(tmp_path_factory, demo_data):
    """tools/dist_train.sh with 2 CPU processes; returns (work_dir, checkpoint,
    options)."""
    options = tiny_cfg_options(demo_data, max_iters=4)

    def train(work_dir):
        env = tool_env()
        env.update(PORT=str(free_port()), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
        log = run(['bash', 'tools/dist_train.sh', DEMO_CONFIG, '2', '--work-dir', str(work_dir)]
                  + cfg_options_argv(options), env)
        assert osp.isfile(work_dir / 'iter_4.pth'), log[-3000:]

    work_dir = str(build_once(tmp_path_factory, 'dist_train', train))
    return work_dir, osp.join(work_dir, 'iter_4.pth'), options


@pytest.fixture(scope='session')
def converted_lite0():
    """The converted ImageNet EfficientNet-Lite0 where the configs look for it
    (pretrain/, ignored by git), made as `make demo` makes it."""
    import fcntl
    import os
    path = osp.join(REPO, 'pretrain', 'efficientnet-lite0_in1k_mmpretrain.pth')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path + '.lock', 'w') as lock:  # one xdist worker converts, the others wait
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not osp.isfile(path):
            call_tool('tools/model_converters/convert_efficientnet_lite.py', [path])
    return path
