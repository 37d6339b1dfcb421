"""A run killed with SIGKILL and resumed ends where an uninterrupted run ends;
the same seed gives the same loss curve; a checkpoint is never half-written.

On CPU the runs are deterministic and compared exactly. CUDA has no
deterministic kernels for some of APC's ops (APCRunner refuses
``randomness.deterministic`` there), so on CUDA what is compared exactly is
what resuming promises, the random states every generator holds at the end,
and the losses to a tolerance."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from helpers import (
    DEMO_CONFIG,
    DEVICES,
    REPO,
    build_once,
    cfg_options_argv,
    device_env,
    run,
    tiny_cfg_options,
)


def options(data_root, device, max_iters=60):
    opts = tiny_cfg_options(data_root, max_iters=max_iters)
    opts.update({
        'train_dataloader.num_workers': 1,  # workers are reseeded identically on resume
        'train_dataloader.persistent_workers': True,
        'default_hooks.checkpoint.interval': 10,
        'default_hooks.checkpoint.max_keep_ckpts': 10,
        'default_hooks.logger.interval': 1,
        'randomness.deterministic': device.type == 'cpu',
    })
    return opts


def train_cmd(work_dir, opts, resume=False):
    return ([sys.executable, 'tools/train.py', DEMO_CONFIG, '--work-dir', str(work_dir)]
            + (['--resume'] if resume else []) + cfg_options_argv(opts))


def losses(work_dir):
    scalars = [p for p in (os.path.join(r, f) for r, _, fs in os.walk(work_dir) for f in fs)
               if p.endswith('scalars.json')]
    rows = [json.loads(line) for p in scalars for line in open(p)]
    return {r['step']: r['loss'] for r in rows if 'loss' in r}


@pytest.fixture(scope='module', params=DEVICES)
def uninterrupted(request, tmp_path_factory, demo_data):
    """An uninterrupted run on each device; returns (work dir, its environment)."""
    device = torch.device(request.param)
    env = device_env(device)
    work = build_once(tmp_path_factory, f'straight_{device.type}',
                      lambda work: run(train_cmd(work, options(demo_data, device)), env))
    return work, env, device


def rng_states(checkpoint):
    """Every generator state in a checkpoint, as comparable bytes."""
    import pickle
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)['rng_state']
    return [pickle.dumps({k: (v.tobytes() if hasattr(v, 'tobytes') else v)
                          for k, v in sorted(rank.items())}) for rank in state['ranks']]


def same_losses(a, b, device):
    if device.type == 'cpu':
        return a == b
    return a.keys() == b.keys() and all(abs(a[k] - b[k]) <= 1e-2 * abs(a[k]) + 1e-5 for k in a)


def test_sigkill_then_resume_equals_an_uninterrupted_run(uninterrupted, demo_data, tmp_path):
    """On CUDA too: the checkpoint's random states come back onto the device."""
    uninterrupted, env, device = uninterrupted
    opts = options(demo_data, device)
    proc = subprocess.Popen(train_cmd(tmp_path, opts), cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    marker = tmp_path / 'last_checkpoint'
    deadline = time.time() + 300
    while time.time() < deadline:
        if marker.exists() and marker.read_text().strip().endswith(('iter_20.pth',
                                                                    'iter_30.pth')):
            break
        assert proc.poll() is None, 'the run ended before it could be killed'
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / 'iter_60.pth').exists()  # it really was cut short
    killed_at = marker.read_text().strip()
    run(train_cmd(tmp_path, opts, resume=True), env)
    # Every generator (torch CPU and CUDA, numpy, Python) is where the
    # uninterrupted run's is: the same random draws were made.
    assert rng_states(uninterrupted / 'iter_60.pth') == rng_states(tmp_path / 'iter_60.pth'), \
        f'resumed from {killed_at}'
    la, lb = losses(uninterrupted), losses(tmp_path)
    assert same_losses({k: la[k] for k in (45, 60)}, {k: lb[k] for k in (45, 60)}, device)
    if device.type == 'cpu':
        a = torch.load(uninterrupted / 'iter_60.pth', map_location='cpu', weights_only=False)
        b = torch.load(tmp_path / 'iter_60.pth', map_location='cpu', weights_only=False)
        diff = max((a['state_dict'][k].float() - b['state_dict'][k].float()).abs().max().item()
                   for k in a['state_dict'])
        assert diff == 0.0, f'resumed from {killed_at}: max weight difference {diff}'
    if device.type == 'cuda':
        assert 'cuda' in torch.load(tmp_path / 'iter_60.pth', map_location='cpu',
                                    weights_only=False)['rng_state']['ranks'][0]


def test_same_seed_same_loss_curve(uninterrupted, demo_data, tmp_path):
    uninterrupted, env, device = uninterrupted
    run(train_cmd(tmp_path, options(demo_data, device)), env)
    first, second = losses(uninterrupted), losses(tmp_path)
    assert len(first) == 60
    assert same_losses(first, second, device)


def test_a_kill_while_saving_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(str(tmp_path / 'x.pth'))
    target = tmp_path / 'iter_10.pth'
    backend.put(b'previous checkpoint', target)

    def die(*args, **kwargs):
        raise KeyboardInterrupt  # stands for the process being killed mid-write

    monkeypatch.setattr(os, 'fsync', die)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new checkpoint that never finishes', target)
    assert target.read_bytes() == b'previous checkpoint'
    assert os.listdir(tmp_path) == ['iter_10.pth']  # no temporary file left behind
