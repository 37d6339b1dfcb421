"""A batch with a non-finite loss never updates the weights; the report names
the iteration and the images."""
import pytest
import torch
from helpers import batch, recorded, tiny_model_cfg
from mmengine.logging import MessageHub
from mmseg.registry import MODELS, OPTIM_WRAPPERS

from apc_mmseg.engine import record_batch_image_ids


def setup(nonfinite):
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='GuardedOptimWrapper', nonfinite=nonfinite,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2)))
    MessageHub.get_current_instance().update_info('iter', 41)
    return model, wrapper


def bad_batch():
    data = batch()
    data['inputs'][1] = data['inputs'][1].float()
    data['inputs'][1][0, 3, 3] = float('nan')  # one poisoned pixel
    data['inputs'][0] = data['inputs'][0].float()
    for i, ds in enumerate(data['data_samples']):
        ds.set_metainfo(dict(img_path=f'JPEGImages/img_{i}.jpg'))
    return data


def train_step(model, data, wrapper):
    """What the runner does: BatchImageIdsHook records the ids, then the step."""
    record_batch_image_ids(data)
    return model.train_step(data, wrapper)


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_skip_leaves_the_weights_untouched_and_says_where():
    model, wrapper = setup('skip')
    before = snapshot(model)
    train_step(model, bad_batch(), wrapper)
    after = snapshot(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.parameters())
    assert wrapper.skipped_steps == 1
    report = wrapper.last_report  # also logged as a warning
    assert 'non-finite loss at iteration 42' in report and 'img_1.jpg' in report
    # A good batch afterwards trains as usual.
    train_step(model, batch(), wrapper)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_stop_raises_with_the_iteration_and_images():
    model, wrapper = setup('stop')
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match=r'iteration 42 .*img_0.jpg.*img_1.jpg'):
        train_step(model, bad_batch(), wrapper)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_non_finite_gradients_with_a_finite_loss_are_skipped():
    model, wrapper = setup('skip')
    before = snapshot(model)
    loss = sum(p.sum() for p in model.parameters() if p.requires_grad) * 0
    weight = next(p for p in model.parameters() if p.requires_grad)
    weight.register_hook(lambda g: g * float('inf'))
    wrapper.update_params(loss + weight.sum())
    assert wrapper.skipped_steps == 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_bad_policy_is_rejected():
    with pytest.raises(ValueError, match="'skip' or 'stop'"):
        OPTIM_WRAPPERS.build(dict(type='GuardedOptimWrapper', nonfinite='ignore',
                                  optimizer=torch.optim.SGD([torch.zeros(1)], lr=0.1)))


def test_consecutive_skips_stop_the_run_and_a_good_step_resets_the_count():
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='GuardedOptimWrapper', nonfinite='skip', max_consecutive_skips=3,
        optimizer=torch.optim.Adam(model.parameters(), lr=1e-2)))
    hub = MessageHub.get_current_instance()
    for it in (10, 11):
        hub.update_info('iter', it)
        train_step(model, bad_batch(), wrapper)
    train_step(model, batch(), wrapper)  # a good step: the run is making progress
    assert wrapper.consecutive_skips == 0 and wrapper.skipped_steps == 2
    for it in (13, 14):
        hub.update_info('iter', it)
        train_step(model, bad_batch(), wrapper)
    before = snapshot(model)
    hub.update_info('iter', 15)
    with pytest.raises(FloatingPointError,
                       match=r'3 consecutive training steps .* iteration 16 .*img_1.jpg'):
        train_step(model, bad_batch(), wrapper)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_max_consecutive_skips_must_be_positive():
    with pytest.raises(ValueError, match='max_consecutive_skips must be >= 1'):
        OPTIM_WRAPPERS.build(dict(type='GuardedOptimWrapper', max_consecutive_skips=0,
                                  optimizer=torch.optim.SGD([torch.zeros(1)], lr=0.1)))


def pretend_gpu(monkeypatch, major, minor):
    """A CUDA device of compute capability ``major.minor`` as torch 2.14's
    ``is_bf16_supported`` sees it: emulated bf16 tensors work on every card,
    so by default it answers True on a T4 (sm_75) too. mmengine refuses to
    build an AMP wrapper without a GPU, so that is pretended too; the update
    itself runs on CPU."""
    from types import SimpleNamespace

    from mmengine.optim.optimizer import amp_optimizer_wrapper
    monkeypatch.setattr(amp_optimizer_wrapper, 'is_cuda_available', lambda: True)
    monkeypatch.setattr(torch.version, 'hip', None)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'current_device', lambda: 0)
    monkeypatch.setattr(torch.cuda, 'get_device_properties',
                        lambda device=None: SimpleNamespace(major=major, minor=minor))
    monkeypatch.setattr(torch.cuda, '_check_bf16_tensor_supported', lambda device: True)


def amp_wrapper(params):
    """What `--amp` makes of the configs' wrapper (mmseg's tools/train.py and
    ours), guarded by APCRunner."""
    from apc_mmseg.engine import guard_optim_wrapper
    cfg = dict(type='AmpOptimWrapper', loss_scale='dynamic', nonfinite='skip',
               optimizer=torch.optim.SGD(params, lr=0.5))
    return OPTIM_WRAPPERS.build(guard_optim_wrapper(cfg))


def test_amp_on_a_pre_ampere_gpu_is_fp16_with_the_dynamic_scaler(monkeypatch):
    pretend_gpu(monkeypatch, 7, 5)
    assert torch.cuda.is_bf16_supported()  # torch's default counts emulation
    w = torch.nn.Parameter(torch.ones(3))
    wrapper = amp_wrapper([w])
    assert type(wrapper).__name__ == 'GuardedAmpOptimWrapper'
    assert wrapper.cast_dtype == torch.float16 and wrapper.loss_scaler is not None
    assert wrapper._scale_update_param is None  # mmengine's 'dynamic': no fixed scale


def test_amp_on_ampere_is_bf16_without_a_scaler_and_keeps_the_guard(monkeypatch):
    pretend_gpu(monkeypatch, 8, 0)
    w = torch.nn.Parameter(torch.ones(3))
    wrapper = amp_wrapper([w])
    assert type(wrapper).__name__ == 'GuardedBF16OptimWrapper'
    assert wrapper.cast_dtype == torch.bfloat16 and getattr(wrapper, 'loss_scaler', None) is None
    wrapper.update_params((w * torch.tensor([1.0, 2.0, 3.0])).sum())
    torch.testing.assert_close(w.detach(), torch.tensor([0.5, 0.0, -0.5]))
    assert 'loss_scaler' not in wrapper.state_dict()
    wrapper.update_params(w.sum() * float('nan'))  # the guard still watches
    assert wrapper.skipped_steps == 1


def test_bf16_wrapper_runs_the_forward_under_autocast():
    model = torch.nn.Linear(4, 4)
    wrapper = OPTIM_WRAPPERS.build(dict(type='GuardedBF16OptimWrapper',
                                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    with wrapper.optim_context(model):
        out = model(torch.ones(2, 4))
    assert out.dtype == torch.bfloat16
    assert model(torch.ones(2, 4)).dtype == torch.float32


def test_one_host_sync_a_step_and_it_comes_after_backward(monkeypatch):
    """The guard's decision (loss and gradients finite on every rank) costs one
    host sync, after the backward pass, and no per-tensor norm."""
    torch.manual_seed(0)
    model = MODELS.build(tiny_model_cfg())
    wrapper = OPTIM_WRAPPERS.build(dict(
        type='GuardedOptimWrapper', optimizer=torch.optim.SGD(model.parameters(), lr=0.1)))
    losses = model(**model.data_preprocessor(batch(), True), mode='loss')
    loss = sum(v for k, v in losses.items() if k.startswith('loss'))
    events = []
    for name in ('item', 'tolist', '__bool__', '__float__', '__int__', 'numpy', 'cpu', 'norm'):
        monkeypatch.setattr(torch.Tensor, name, recorded(events, name, getattr(torch.Tensor, name)))
    monkeypatch.setattr(wrapper, 'backward', recorded(events, 'backward', wrapper.backward))
    monkeypatch.setattr(wrapper, 'step', recorded(events, 'step', wrapper.step))
    wrapper.update_params(loss)
    before_step = events[:events.index('step')]
    assert before_step == ['backward', 'tolist'], events


