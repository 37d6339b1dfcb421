"""Random states saved in a checkpoint come back whatever device mmengine's
``map_location`` puts the checkpoint's tensors on."""
import random

import numpy as np
import pytest
import torch

from apc_mmseg.engine import RNGStateHook


class FakeRunner:
    iter = 7  # a resumed run


def draws():
    return torch.rand(3).tolist(), np.random.rand(), random.random()


@pytest.mark.parametrize('map_location', ['cpu', 'meta'])
def test_states_restore_after_loading_onto_another_device(tmp_path, map_location):
    """'meta' stands for a device other than the CPU: every tensor the
    checkpoint holds lands there, as on CUDA when resuming on a GPU."""
    hook = RNGStateHook()
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    checkpoint = {}
    hook.before_save_checkpoint(FakeRunner(), checkpoint)
    want = draws()
    torch.save(checkpoint, tmp_path / 'ckpt.pth')
    loaded = torch.load(tmp_path / 'ckpt.pth', map_location=map_location, weights_only=False)
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    hook.after_load_checkpoint(FakeRunner(), loaded)
    hook.before_train(FakeRunner())
    assert draws() == want


def test_tensor_states_of_older_checkpoints_on_any_device(device):
    """Checkpoints written before states were stored as arrays hold tensors;
    on a GPU resume they arrive on CUDA."""
    torch.manual_seed(5)
    state = dict(torch=torch.get_rng_state().to(device), numpy=np.random.get_state(),
                 python=random.getstate())
    want = draws()
    hook = RNGStateHook()
    hook.after_load_checkpoint(FakeRunner(), dict(rng_state=state))
    hook.before_train(FakeRunner())
    assert draws() == want


# ----------------------------------------------------- several processes
def rank_options(data_root, max_iters=8, save_best='pseudo_mIoU'):
    """Checkpoints and validation every 4 iterations: the run validates
    after saving iter_4.pth and goes on, as a run killed after that
    validation had. The validation loader's iterator draws its base seed
    from torch's generator whatever its worker count; no worker is forked
    mid-training (Python 3.11 can deadlock forking a process with threads)."""
    from helpers import tiny_cfg_options
    opts = tiny_cfg_options(data_root, max_iters=max_iters)
    opts.update({
        'train_dataloader.num_workers': 1,  # workers are reseeded identically on resume
        'train_dataloader.persistent_workers': True,
        'train_cfg.val_interval': 4,
        'default_hooks.checkpoint.interval': 4,
        'default_hooks.checkpoint.max_keep_ckpts': 4,
        'default_hooks.checkpoint.save_best': save_best,
        'randomness.diff_rank_seed': True,  # each rank its own dropout stream
    })
    return opts


def dist_train(work_dir, procs, data_root, resume=False, max_iters=8,
               save_best='pseudo_mIoU'):
    import sys

    from helpers import DEMO_CONFIG, cfg_options_argv, free_port, run, tool_env
    env = tool_env()
    env.update(PORT=str(free_port()), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    return run(['bash', 'tools/dist_train.sh', DEMO_CONFIG, str(procs), '--work-dir',
                str(work_dir)] + (['--resume'] if resume else [])
               + cfg_options_argv(rank_options(data_root, max_iters, save_best)), env)


def resume_from(checkpoint, work_dir, keep_ranks=None):
    """``work_dir`` set up to resume from a copy of ``checkpoint`` (with only
    the first ``keep_ranks`` random states: what a run of that many processes
    writes)."""
    work_dir.mkdir()
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    if keep_ranks is not None:
        state['rng_state']['ranks'] = state['rng_state']['ranks'][:keep_ranks]
    torch.save(state, work_dir / 'iter_4.pth')
    (work_dir / 'last_checkpoint').write_text(str(work_dir / 'iter_4.pth'))


def weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def rank_states(path):
    """Every rank's generator states in a checkpoint (read weights-only: the
    checkpoints are data, the best ones included), as comparable bytes."""
    import pickle
    ranks = torch.load(path, map_location='cpu', weights_only=True)['rng_state']['ranks']
    return [pickle.dumps({k: (v.tobytes() if hasattr(v, 'tobytes') else v)
                          for k, v in sorted(rank.items())}) for rank in ranks]


def assert_resumed_exactly(straight, resumed, procs):
    a, b = weights(straight / 'iter_8.pth'), weights(resumed / 'iter_8.pth')
    diff = max((a[k].float() - b[k].float()).abs().max().item() for k in a)
    assert diff == 0.0, f'max weight difference {diff}'
    states = rank_states(straight / 'iter_8.pth')
    assert len(states) == procs and states == rank_states(resumed / 'iter_8.pth')


@pytest.fixture(scope='module')
def two_rank_run(tmp_path_factory, demo_data):
    from helpers import build_once
    return build_once(tmp_path_factory, 'rng_two_ranks',
                      lambda work: dist_train(work, 2, demo_data))


def test_each_rank_resumes_its_own_streams(two_rank_run, demo_data, tmp_path):
    """2 processes, each with its own dropout stream, validating every 2
    iterations and keeping the best checkpoint, resumed from iteration 4 (the
    uninterrupted run validated after saving it): the weights and every
    rank's streams at 8 equal those of the uninterrupted run (with rank 0's
    streams on both ranks, or the streams validation moved, they would not)."""
    saved = torch.load(two_rank_run / 'iter_4.pth', map_location='cpu', weights_only=False)
    ranks = saved['rng_state']['ranks']
    assert len(ranks) == 2 and not np.array_equal(ranks[0]['torch'], ranks[1]['torch'])
    assert list(two_rank_run.glob('best_*.pth'))  # save_best saved after a validation
    resume_from(two_rank_run / 'iter_4.pth', tmp_path / 'resumed')
    dist_train(tmp_path / 'resumed', 2, demo_data, resume=True)
    assert_resumed_exactly(two_rank_run, tmp_path / 'resumed', 2)


@pytest.mark.parametrize('procs,save_best', [(1, 'pseudo_mIoU'), (1, None), (2, None)])
def test_validation_between_save_and_kill_changes_nothing(demo_data, tmp_path, procs,
                                                          save_best):
    """1 and 2 processes, with and without save_best (2 with it is above)."""
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    dist_train(straight, procs, demo_data, save_best=save_best)
    assert bool(list(straight.glob('best_*.pth'))) == bool(save_best)
    resume_from(straight / 'iter_4.pth', resumed)
    dist_train(resumed, procs, demo_data, resume=True, save_best=save_best)
    assert_resumed_exactly(straight, resumed, procs)


def test_the_best_checkpoint_holds_every_ranks_streams(two_rank_run):
    """The best checkpoint is written after a validation, on rank 0 alone:
    it holds the streams both ranks had when the validation began, the ones a
    checkpoint saved at that iteration holds."""
    best, = two_rank_run.glob('best_*.pth')
    it = int(best.stem.rsplit('_', 1)[1])  # validated every 4 iterations, saved every 4
    states = rank_states(best)
    assert len(states) == 2 and states[0] != states[1]
    assert states == rank_states(two_rank_run / f'iter_{it}.pth')


@pytest.mark.parametrize('saved,now', [(2, 1), (1, 2)])
def test_resume_with_another_number_of_processes(two_rank_run, demo_data, tmp_path,
                                                  saved, now):
    """Also tools/dist_train.sh on 1 and on 2 ranks: both run distributed."""
    resume_from(two_rank_run / 'iter_4.pth', tmp_path / 'resumed', keep_ranks=saved)
    log = dist_train(tmp_path / 'resumed', now, demo_data, resume=True)
    assert 'Distributed training: True' in log
    assert (tmp_path / 'resumed' / 'iter_8.pth').is_file()
    assert f'the checkpoint has {saved} rank(s), this run {now}' in log
    assert ('ranks 1-1 keep this run\'s seeding' if now > saved else
            'the saved streams of ranks 1-1 are unused') in log
