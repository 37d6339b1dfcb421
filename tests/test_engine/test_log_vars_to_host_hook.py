"""The host syncs of a whole training step, counted: the forward's (mmseg's
``accuracy``), the non-finite guard's, and the logging's."""
import warnings

import pytest
import torch
from helpers import batch, recorded, tiny_model_cfg
from mmengine.hooks import RuntimeInfoHook
from mmengine.logging import MessageHub
from mmseg.registry import MODELS, OPTIM_WRAPPERS

from apc_mmseg.engine import LogVarsToHostHook

SYNCING = ('item', 'tolist', '__bool__', '__float__', '__int__', 'numpy', 'cpu', 'nonzero')


class StubRunner:
    def __init__(self):
        self.message_hub = MessageHub.get_instance('test_log_vars_to_host')
        self.iter = 0
        self.optim_wrapper = None


def step_and_log(model, wrapper, hooks, runner):
    outputs = model.train_step(batch(), wrapper)
    for hook in hooks:
        hook.after_train_iter(runner, 0, None, outputs)
    return outputs


def record_syncs(monkeypatch):
    """The host-reading calls made from Python: tensor-to-host conversions,
    and indexing with a boolean mask (its size is read from the device)."""
    events = []
    for name in SYNCING:
        monkeypatch.setattr(torch.Tensor, name, recorded(events, name, getattr(torch.Tensor, name)))
    getitem = torch.Tensor.__getitem__

    def indexing(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        if any(torch.is_tensor(p) and p.dtype == torch.bool for p in parts):
            events.append('mask-index')
        return getitem(self, index)
    monkeypatch.setattr(torch.Tensor, '__getitem__', indexing)
    return events


def tiny_step(device):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg()).to(device)
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='GuardedOptimWrapper', optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    runner = StubRunner()
    runner.optim_wrapper = wrapper
    return model, wrapper, runner


def test_a_step_syncs_four_times_and_logging_once(monkeypatch):
    """mmseg's ``accuracy`` (the decode head's ``acc_seg``) indexes with a
    mask twice mid-forward; the guard reads its flags once after backward;
    the logged values come to the host in one ``tolist`` (five ``item``
    calls without the hook)."""
    model, wrapper, runner = tiny_step('cpu')
    hooks = [LogVarsToHostHook(), RuntimeInfoHook()]
    events = record_syncs(monkeypatch)
    outputs = step_and_log(model, wrapper, hooks, runner)
    assert events == ['mask-index', 'mask-index', 'tolist', 'tolist'], events
    assert set(outputs) >= {'loss', 'loss_cls', 'loss_pcl', 'loss_seg', 'acc_seg'}
    assert all(isinstance(v, float) for v in outputs.values())
    logged = runner.message_hub.get_scalar('train/loss_cls').current()
    assert logged == outputs['loss_cls']


def test_without_the_hook_logging_syncs_once_a_value(monkeypatch):
    model, wrapper, runner = tiny_step('cpu')
    events = record_syncs(monkeypatch)
    outputs = step_and_log(model, wrapper, [RuntimeInfoHook()], runner)
    assert events[3:] == ['item'] * len(outputs), events


def test_the_logged_values_are_the_steps(device, monkeypatch):
    """On every device: the floats are the step's own values. On a GPU,
    torch's own sync detector also counts the step's syncs (the recorder
    above sees only those made from Python)."""
    model, wrapper, runner = tiny_step(device)
    outputs = model.train_step(batch(), wrapper)
    want = {k: v.item() for k, v in outputs.items()}
    LogVarsToHostHook().after_train_iter(runner, 0, None, outputs)
    assert outputs == pytest.approx(want, rel=0, abs=0)
    if device.type == 'cuda':
        data = model.data_preprocessor(batch(), True)
        torch.cuda.set_sync_debug_mode('warn')
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter('always')
                counted_step(model, wrapper, runner, data, monkeypatch)
        finally:
            torch.cuda.set_sync_debug_mode('default')
        syncs = [str(w.message) for w in caught if 'synchroniz' in str(w.message)]
        assert len(syncs) <= 4, syncs


def counted_step(model, wrapper, runner, data, monkeypatch):
    """One step and its logging, on ``data`` the data preprocessor has
    already put on the device. Torch's detector warns at each blocking
    host-to-device copy too, one a tensor of the batch: those are the data
    path's, not the step's syncs, so the preprocessing runs before the count
    and the step takes its output as it is."""
    monkeypatch.setattr(model.data_preprocessor, 'forward', lambda data, training=False: data)
    outputs = model.train_step(data, wrapper)
    for hook in (LogVarsToHostHook(), RuntimeInfoHook()):
        hook.after_train_iter(runner, 0, None, outputs)
    return outputs


def test_the_counted_step_moves_no_batch_and_syncs_four_times(monkeypatch):
    """The GPU count's region, run on the CPU: mmengine's ``cast_data`` (the
    batch's copies to the device) is not called in it, and what it does
    sync is the four syncs counted above."""
    model, wrapper, runner = tiny_step('cpu')
    data = model.data_preprocessor(batch(), True)
    casts = []
    cast = model.data_preprocessor.cast_data
    monkeypatch.setattr(model.data_preprocessor, 'cast_data',
                        lambda data: casts.append(data) or cast(data))
    events = record_syncs(monkeypatch)
    outputs = counted_step(model, wrapper, runner, data, monkeypatch)
    assert casts == [] and events == ['mask-index', 'mask-index', 'tolist', 'tolist'], events
    assert runner.message_hub.get_scalar('train/loss_cls').current() == outputs['loss_cls']
