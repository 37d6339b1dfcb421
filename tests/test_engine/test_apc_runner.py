"""APCRunner: what every launcher gets from the configs' ``runner_type``:
mmseg's own tools/train.py on 1 and 2 gloo processes trains the configured
global batch, its --amp keeps the guard, deterministic runs are refused on
CUDA before anything is built."""
import glob
import os.path as osp
import sys

import mmseg
import pytest
import torch
from helpers import DEMO_CONFIG, call_tool, cfg_options_argv, free_port, run, tool_env
from mmengine.config import Config

from apc_mmseg.engine import APCRunner

MMSEG_TRAIN = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools', 'train.py')


def mmseg_train(work_dir, options, procs, *extra):
    env = tool_env()
    env['CUDA_VISIBLE_DEVICES'] = ''
    launch = [sys.executable, MMSEG_TRAIN] if procs == 1 else [
        sys.executable, '-m', 'torch.distributed.run', f'--nproc_per_node={procs}',
        f'--master_port={free_port()}', MMSEG_TRAIN]
    return run(launch + [DEMO_CONFIG, '--work-dir', str(work_dir),
                         '--launcher', 'none' if procs == 1 else 'pytorch', *extra]
               + cfg_options_argv(options), env)


@pytest.mark.parametrize('procs,amp', [(1, True), (2, False)], ids=['1proc-amp', '2procs'])
def test_mmsegs_own_train_tool_trains_the_global_batch(procs, amp, tiny_options, tmp_path):
    options = dict(tiny_options, global_batch_size=4, **{
        'train_dataloader.batch_size': 4,  # as the configs: the one-process value
        'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
        'default_hooks.checkpoint.interval': 2})
    log = mmseg_train(tmp_path, options, procs, *(['--amp'] if amp else []))
    assert f'training batch: 4 images a step = {procs} process(es) x {4 // procs}' in log, \
        log[-3000:]
    assert 'replaced by' not in log  # the config's own batch_size is no user's choice
    wrapper = 'GuardedBF16OptimWrapper' if amp else 'GuardedOptimWrapper'
    assert f'optimizer wrapper: {wrapper}' in log
    assert osp.isfile(osp.join(tmp_path, 'iter_2.pth'))
    if procs == 2:
        text = open(glob.glob(osp.join(tmp_path, '*', '*.log'))[0]).read()
        assert "dist_cfg: {'backend': 'gloo'}" in text


def test_deterministic_is_refused_on_cuda_before_anything_is_built(monkeypatch, tmp_path):
    """The refusal names, in order, the ops the probe found refused on the
    process's GPU, and no other (what torch refuses on a real GPU:
    test_determinism.py). Simulated: a GPU, and a torch whose cross-entropy
    refuses (torch's own alert), probed on the CPU."""
    import torch.nn.functional as F
    from torch._prims_common import alert_not_deterministic

    from apc_mmseg.engine import apc_runner
    from apc_mmseg.utils.determinism import PROBES, nondeterministic_ops
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.work_dir = str(tmp_path)
    cfg.randomness = dict(seed=0, deterministic=True)
    probed = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setenv('LOCAL_RANK', '1')
    real = F.cross_entropy

    def refusing(*args, **kwargs):
        alert_not_deterministic('nll_loss2d_forward_out_cuda_template')
        return real(*args, **kwargs)
    monkeypatch.setattr(F, 'cross_entropy', refusing)
    monkeypatch.setattr(apc_runner, 'nondeterministic_ops',
                        lambda device: probed.append(device) or nondeterministic_ops(
                            torch.device('cpu')))
    with pytest.raises(ValueError, match=r'not supported on CUDA with torch .*: in '
                       r"deterministic mode torch refuses \(1\) the decode loss's "
                       r'cross-entropy .*\(torch: "nll_loss2d_forward_out_cuda_template does '
                       r'not have a deterministic implementation"\)\. The run would stop') as e:
        APCRunner.from_cfg(cfg)
    assert '(2)' not in str(e.value) and not any(
        name in str(e.value) for name, _ in PROBES[:1] + PROBES[2:])
    assert probed == [torch.device('cuda', 1)]  # this rank's own GPU
    assert not list(tmp_path.iterdir())  # nothing was written


def test_a_run_resumed_with_a_longer_schedule_follows_the_new_schedule(demo_data, tmp_path):
    """4 iterations, then resumed to 8 with the learning-rate step at 6 (past
    the first run's end, where mmengine's restored scheduler stopped): the
    learning rate of every iteration is the uninterrupted run's (the logged
    one is the backbone's: 0 in the warm-up, then 1e-3 x gamma)."""
    import json

    from helpers import DEMO_CONFIG, tiny_cfg_options

    def train(work, max_iters, resume=False):
        opts = tiny_cfg_options(demo_data, max_iters=max_iters)
        opts.update({'param_scheduler.0.milestone': 6, 'param_scheduler.0.gamma': 0.1,
                     'train_cfg.val_interval': 100,
                     'default_hooks.checkpoint.interval': 4})
        return call_tool('tools/train.py', [DEMO_CONFIG, '--work-dir', work]
                         + (['--resume'] if resume else []) + cfg_options_argv(opts))

    def lrs(work):
        rows = [json.loads(line) for path in glob.glob(str(work / '*/vis_data/scalars.json'))
                for line in open(path)]
        return {r['step']: r['lr'] for r in rows if 'lr' in r}
    train(tmp_path / 'straight', 8)
    train(tmp_path / 'extended', 4)
    log = train(tmp_path / 'extended', 8, resume=True)
    assert 'UnfreezeStepLR: end 4 (saved) -> 8' in log
    want = lrs(tmp_path / 'straight')
    assert want[6] == 0 and want[7] == pytest.approx(1e-4)
    assert lrs(tmp_path / 'extended') == want
