"""Checkpoints are data: ours load weights-only, and a checkpoint that would
run code on loading is refused by every loading path."""
import os
import os.path as osp
import shutil
import sys

import numpy as np
import pytest
import torch
from helpers import REPO, cfg_options_argv, run_process, tool_env
from mmengine.config import ConfigDict
from mmengine.logging import HistoryBuffer

from apc_mmseg.utils.checkpoint import TRUST_ENV, plain, restore_history_buffers

CONFIG = osp.join(REPO, 'configs/apc/apc_demo_cpu.py')


class MakesADirectory:
    """Unpickling this creates a folder: a stand-in for any command."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.fixture
def malicious(trained, tmp_path):
    """The trained run's checkpoint with one more entry whose unpickling
    would create ``tmp_path/pwned``."""
    _, ckpt, _ = trained
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    marker = str(tmp_path / 'pwned')
    state['meta']['payload'] = MakesADirectory(marker)
    path = tmp_path / 'evil.pth'
    torch.save(state, path)
    return str(path), marker


def test_plain_data_against_hand_values():
    buffer = HistoryBuffer([1.0, 2.5], [1, 2], max_length=7)
    data = plain(dict(scalars=ConfigDict(a=buffer), best=np.float64(0.25), ids=np.arange(3),
                      pair=(np.int64(4), 'x'), t=torch.ones(2)))
    assert type(data['scalars']) is dict and data['best'] == 0.25 and type(data['best']) is float
    assert data['ids'] == [0, 1, 2] and data['pair'] == (4, 'x') and type(data['pair'][0]) is int
    assert torch.equal(data['t'], torch.ones(2))
    hub = dict(log_scalars=data['scalars'])
    restore_history_buffers(hub)
    back = hub['log_scalars']['a']
    assert isinstance(back, HistoryBuffer) and back.max_length == 7
    assert back.data[0].tolist() == [1.0, 2.5] and back.data[1].tolist() == [1, 2]
    assert back.mean() == pytest.approx((1.0 + 2.5) / (1 + 2))


def test_our_checkpoints_load_weights_only(trained):
    """The training checkpoint (the best ones: test_rng_state_hook.py); the
    message hub comes back as HistoryBuffers through the package's loader."""
    from mmengine.runner.checkpoint import CheckpointLoader
    _, ckpt, _ = trained
    state = torch.load(ckpt, map_location='cpu', weights_only=True)
    assert 'state_dict' in state and 'meta' in state
    loaded = CheckpointLoader.load_checkpoint(ckpt, map_location='cpu')
    scalars = loaded['message_hub']['log_scalars']
    assert scalars and all(isinstance(v, HistoryBuffer) for v in scalars.values())
    assert len(loaded['rng_state']['ranks']) == 2


def test_a_malicious_checkpoint_is_refused_in_process(malicious, trained):
    """mmengine's loader, ``init_model`` and ``MMSegInferencer``: refused
    with the file and the class it wanted named, and nothing ran."""
    from mmengine.config import Config
    from mmengine.runner.checkpoint import CheckpointLoader
    from mmseg.apis import MMSegInferencer, init_model
    path, marker = malicious
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(trained[2])
    attempts = [lambda: CheckpointLoader.load_checkpoint(path, map_location='cpu'),
                lambda: init_model(cfg, path, device='cpu'),
                lambda: MMSegInferencer(model=cfg, weights=path, device='cpu')]
    for attempt in attempts:
        with pytest.raises(RuntimeError, match=f'{path}: refused.*mkdir.*{TRUST_ENV}=1'):
            attempt()
        assert not osp.exists(marker)


@pytest.mark.parametrize('how', ['test', 'load_from', 'resume'])
def test_a_malicious_checkpoint_is_refused_by_the_tools(malicious, trained, tmp_path, how):
    path, marker = malicious
    _, _, options = trained
    work = tmp_path / 'work'
    if how == 'test':
        cmd = ['tools/test.py', CONFIG, path]
    elif how == 'load_from':
        cmd = ['tools/train.py', CONFIG]
        options = dict(options, load_from=path)
    else:
        work.mkdir()
        shutil.copy(path, work / 'iter_4.pth')
        (work / 'last_checkpoint').write_text(str(work / 'iter_4.pth'))
        cmd = ['tools/train.py', CONFIG, '--resume']
    proc = run_process([sys.executable, *cmd, '--work-dir', str(work)]
                       + cfg_options_argv(options), tool_env(), timeout=300)
    assert proc.returncode != 0 and 'refused' in proc.stderr and TRUST_ENV in proc.stderr, \
        proc.stderr[-3000:]
    assert not osp.exists(marker)


def test_a_trusted_file_loads_when_the_user_says_so(malicious, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    path, marker = malicious
    monkeypatch.setenv(TRUST_ENV, '1')
    CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert osp.isdir(marker)  # the file's own code ran: what trusting it means
