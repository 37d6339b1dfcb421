import contextlib
import logging
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
from mmseg.utils import register_all_modules  # noqa: E402

import apc_mmseg  # noqa: E402,F401  (registers components)

register_all_modules(init_default_scope=True)  # configs' default_scope = 'mmseg'


# The key tests run on every device this machine has: `cpu` always, `cuda`
# when present, so the same suite is the GPU check (`make gpu-check`).
DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    return torch.device(request.param)


def device_env(device):
    """Environment for a tool run on ``device`` (CPU: GPUs hidden)."""
    env = tool_env()
    if device.type == 'cpu':
        env['CUDA_VISIBLE_DEVICES'] = ''
    else:
        env.setdefault('CUBLAS_WORKSPACE_CONFIG', ':4096:8')  # deterministic cuBLAS
    return env


@pytest.fixture(scope='session')
def repo_root():
    return REPO


DEMO_CONFIG = osp.join(REPO, 'configs/apc/apc_demo_cpu.py')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(cmd, env, timeout=600):
    proc = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}'
    return proc.stdout + proc.stderr


@pytest.fixture(scope='session')
def demo_data(tmp_path_factory):
    """A small VOC-layout weak-label data set (16 train, 4 val images)."""
    from apc_mmseg.datasets.demo_data import generate
    return generate(str(tmp_path_factory.mktemp('demo_data')), num_train=16, num_val=4, seed=0)


def tiny_cfg_options(data_root, max_iters=4):
    """Overrides that shrink configs/apc/apc_demo_cpu.py to a seconds-long run."""
    return {
        'train_dataloader.dataset.data_root': data_root,
        'val_dataloader.dataset.val.data_root': data_root,
        'val_dataloader.dataset.train.data_root': data_root,
        'test_dataloader.dataset.data_root': data_root,
        'global_batch_size': 2,  # 1 process x 2, or 2 x 1
        'train_dataloader.batch_size': 2,
        'train_dataloader.num_workers': 0,
        'train_dataloader.persistent_workers': False,
        'val_dataloader.num_workers': 0,
        'val_dataloader.persistent_workers': False,
        'test_dataloader.num_workers': 0,
        'test_dataloader.persistent_workers': False,
        'model.data_preprocessor.size': (64, 64),
        'model.test_cfg.size': (64, 64),
        'train_dataloader.dataset.pipeline.2.scale': (64, 64),
        'train_cfg.max_iters': max_iters,
        'train_cfg.val_interval': max_iters,
        'default_hooks.checkpoint.interval': max_iters,
        'default_hooks.logger.interval': 1,
        'randomness.seed': 0,
    }


@pytest.fixture
def tiny_options(demo_data):
    return tiny_cfg_options(demo_data)


def cfg_options_argv(options):
    """``--cfg-options`` words for the command line tools."""
    words = []
    for k, v in options.items():
        if isinstance(v, tuple):
            v = '(' + ','.join(str(x) for x in v) + ')'
        elif isinstance(v, dict):
            v = 'dict(' + ','.join(f'{a}={b}' for a, b in v.items()) + ')'
        words.append(f'{k}={v}')
    return ['--cfg-options'] + words


@contextlib.contextmanager
def mmlogger_records():
    """The records mmengine's current logger gets inside the block."""
    from mmengine.logging import MMLogger
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logger = MMLogger.get_current_instance()
    logger.addHandler(handler)
    try:
        yield records
    finally:
        logger.removeHandler(handler)


def tool_env():
    env = dict(os.environ)
    # the repository, and tests/ for the helper scripts run as processes
    env['PYTHONPATH'] = os.pathsep.join([REPO, osp.join(REPO, 'tests'),
                                         env.get('PYTHONPATH', '')])
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


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
