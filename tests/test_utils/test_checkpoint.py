"""Checkpoints are data: ours load weights-only, and a checkpoint that would
run code on loading is refused by every loading path."""
import os
import os.path as osp
import re
import shutil
import sys

import numpy as np
import pytest
import torch
from helpers import REPO, call_tool, cfg_options_argv
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
        path = str(work / 'iter_4.pth')
        shutil.copy(malicious[0], path)
        (work / 'last_checkpoint').write_text(path)
        cmd = ['tools/train.py', CONFIG, '--resume']
    with pytest.raises(RuntimeError, match=f'{re.escape(path)}: refused.*{TRUST_ENV}=1'):
        call_tool(cmd[0], cmd[1:] + ['--work-dir', work] + cfg_options_argv(options))
    assert not osp.exists(marker)


def test_a_trusted_file_loads_when_the_user_says_so(malicious, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    path, marker = malicious
    monkeypatch.setenv(TRUST_ENV, '1')
    CheckpointLoader.load_checkpoint(path, map_location='cpu')
    assert osp.isdir(marker)  # the file's own code ran: what trusting it means


# --- every scheme mmengine reads goes through the same policy ---------------

@pytest.fixture
def evil_file(tmp_path):
    """A small checkpoint whose unpickling would create ``tmp_path/pwned``."""
    marker = str(tmp_path / 'pwned')
    served = tmp_path / 'served'
    served.mkdir()
    torch.save(dict(state_dict=dict(w=torch.ones(1)), meta=MakesADirectory(marker)),
               served / 'evil.pth')
    return served / 'evil.pth', marker


@pytest.fixture
def http_server(evil_file, tmp_path, monkeypatch):
    """``evil_file``'s folder served on 127.0.0.1 (a thread, stopped at the
    end); downloads cached under ``tmp_path/torch``."""
    import functools
    import http.server
    import threading
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(evil_file[0].parent))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs=dict(poll_interval=0.05),
                              daemon=True)
    thread.start()
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    yield f'http://127.0.0.1:{server.server_address[1]}'
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_every_scheme_mmengine_knows_has_the_packages_loader():
    """A prefix left with mmengine's own loader would unpickle in full
    (its URL loaders use torch.hub's ``weights_only=False`` default)."""
    from mmengine.runner.checkpoint import CheckpointLoader

    import apc_mmseg  # noqa: F401
    expected = {'', 'http://', 'https://', 'modelzoo://', 'torchvision://', 'open-mmlab://',
                'openmmlab://', 'mmcls://', 'pavi://', r'(\S+\:)?s3://', r'(\S+\:)?petrel://'}
    assert set(CheckpointLoader._schemes) == expected
    others = {p: f.__module__ for p, f in CheckpointLoader._schemes.items()
              if f.__module__ != 'apc_mmseg.utils.checkpoint'}
    assert not others, f'loaders outside the policy: {others}'


def _refused_without_running(load, name, marker):
    with pytest.raises(RuntimeError, match=rf'{re.escape(name)}.*refused.*mkdir.*{TRUST_ENV}=1'):
        load()
    assert not osp.exists(marker)


def test_a_checkpoint_over_http_is_refused_on_every_path(http_server, evil_file, trained):
    """mmengine's loader, ``init_model``, the inferencer and a backbone's
    ``init_cfg`` given an http:// URL: refused, nothing ran."""
    from mmengine.config import Config
    from mmengine.runner.checkpoint import CheckpointLoader, load_checkpoint
    from mmseg.apis import MMSegInferencer, init_model
    _, marker = evil_file
    url = f'{http_server}/evil.pth'
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(trained[2])
    model = init_model(cfg, None, device='cpu')
    for load in [lambda: CheckpointLoader.load_checkpoint(url, map_location='cpu'),
                 lambda: init_model(cfg, url, device='cpu'),
                 lambda: MMSegInferencer(model=cfg, weights=url, device='cpu'),
                 lambda: load_checkpoint(model.backbone, url, map_location='cpu')]:
        _refused_without_running(load, url, marker)


def test_named_model_schemes_are_refused(http_server, evil_file, monkeypatch):
    """torchvision://, modelzoo://, open-mmlab://, openmmlab://, mmcls://:
    mmengine's name tables pointed at the local server."""
    from mmengine.runner import checkpoint as mmengine_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader
    _, marker = evil_file
    table = lambda: {'evil': f'{http_server}/evil.pth'}  # noqa: E731
    for getter in ('get_torchvision_models', 'get_external_models', 'get_mmcls_models'):
        monkeypatch.setattr(mmengine_checkpoint, getter, table)
    for scheme in ('torchvision', 'modelzoo', 'open-mmlab', 'openmmlab', 'mmcls'):
        _refused_without_running(
            lambda: CheckpointLoader.load_checkpoint(f'{scheme}://evil', map_location='cpu'),
            f'{http_server}/evil.pth', marker)


def test_storage_schemes_are_refused(evil_file, monkeypatch):
    """s3:// and petrel:// (bytes from mmengine's file backend), pavi://
    (a download by pavi's model cloud): stand-ins for both services."""
    import types

    import mmengine.fileio
    from mmengine.runner.checkpoint import CheckpointLoader
    path, marker = evil_file
    data = path.read_bytes()
    monkeypatch.setattr(mmengine.fileio, 'get_file_backend',
                        lambda *a, **k: types.SimpleNamespace(get=lambda name: data))
    for url in ('s3://bucket/evil.pth', 'cluster:s3://bucket/evil.pth', 'petrel://b/evil.pth'):
        _refused_without_running(lambda: CheckpointLoader.load_checkpoint(url), url, marker)
    model = types.SimpleNamespace(name='evil.pth',
                                  download=lambda dst: shutil.copy(path, dst))
    pavi = types.ModuleType('pavi')
    pavi.modelcloud = types.SimpleNamespace(get=lambda name: model)
    monkeypatch.setitem(sys.modules, 'pavi', pavi)
    _refused_without_running(lambda: CheckpointLoader.load_checkpoint('pavi://m/evil'),
                             'pavi://m/evil', marker)


def test_trusting_a_url_is_the_users_choice(http_server, evil_file, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    _, marker = evil_file
    monkeypatch.setenv(TRUST_ENV, 'true')
    CheckpointLoader.load_checkpoint(f'{http_server}/evil.pth', map_location='cpu')
    assert osp.isdir(marker)


@pytest.mark.parametrize('value,trusted', [('1', True), ('true', True), ('YES', True),
                                           (' on ', True), ('', False), ('0', False),
                                           ('false', False), ('No', False), ('off', False)])
def test_the_opt_in_takes_the_usual_values(monkeypatch, value, trusted):
    from apc_mmseg.utils.checkpoint import checkpoints_trusted
    monkeypatch.setenv(TRUST_ENV, value)
    assert checkpoints_trusted() is trusted


def test_an_unknown_opt_in_value_is_refused(evil_file, monkeypatch):
    from mmengine.runner.checkpoint import CheckpointLoader
    path, marker = evil_file
    monkeypatch.setenv(TRUST_ENV, 'maybe')
    with pytest.raises(ValueError, match=f"{TRUST_ENV}='maybe': expected one of 1, true"):
        CheckpointLoader.load_checkpoint(str(path))
    assert not osp.exists(marker)


@pytest.mark.parametrize('content', [b'not a checkpoint, just text\n', b'', b'{"a": 1}',
                                     'truncated'])
def test_a_broken_file_is_called_broken(tmp_path, content, monkeypatch):
    """Never the security refusal (which would nudge the user to trust it)."""
    from mmengine.runner.checkpoint import CheckpointLoader
    path = tmp_path / 'model.pth'
    if content == 'truncated':
        torch.save(dict(w=torch.ones(1000)), path)
        content = path.read_bytes()[:500]
    path.write_bytes(content)
    for value in ('', '1'):
        monkeypatch.setenv(TRUST_ENV, value)
        with pytest.raises(RuntimeError, match=f'{re.escape(str(path))}: broken or not a '
                                               'checkpoint') as error:
            CheckpointLoader.load_checkpoint(str(path))
        assert TRUST_ENV not in str(error.value)


def test_the_converters_and_the_summary_name_an_untrusted_file(evil_file, tmp_path):
    """Each stops with the file named, no traceback, and nothing ran; the
    opt-in is honoured."""
    path, marker = evil_file
    commands = [['tools/model_converters/convert_efficientnet_lite.py',
                 str(tmp_path / 'out.pth'), '--src', str(path)],
                ['tools/model_converters/convert_vit_weights.py', str(path),
                 str(tmp_path / 'out.pth')],
                ['tools/pretrain_demo_vit.py', '--summarise', str(path)]]
    for cmd in commands:
        # SystemExit with the message: what the user sees, without a traceback
        with pytest.raises(SystemExit, match=f'{re.escape(str(path))}: refused'):
            call_tool(cmd[0], cmd[1:])
        assert not osp.exists(marker)
    with pytest.raises(KeyError, match='not a tensor of EfficientNet-Lite0'):  # loaded, then read
        call_tool(commands[0][0], commands[0][1:], {TRUST_ENV: 'yes'})
    assert osp.isdir(marker)
