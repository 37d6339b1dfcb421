"""A batch with a non-finite loss never updates the weights; the report names
the iteration and the images."""
import pytest
import torch
from mmengine.logging import MessageHub
from mmseg.registry import MODELS, OPTIM_WRAPPERS

from test_models.test_apc_segmentor import batch, tiny_model_cfg


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


def snapshot(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_skip_leaves_the_weights_untouched_and_says_where():
    model, wrapper = setup('skip')
    before = snapshot(model)
    model.train_step(bad_batch(), wrapper)
    after = snapshot(model)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.parameters())
    assert wrapper.skipped_steps == 1
    report = wrapper.last_report  # also logged as a warning
    assert 'non-finite loss at iteration 42' in report and 'img_1.jpg' in report
    # A good batch afterwards trains as usual.
    model.train_step(batch(), wrapper)
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_stop_raises_with_the_iteration_and_images():
    model, wrapper = setup('stop')
    before = snapshot(model)
    with pytest.raises(FloatingPointError, match=r'iteration 42 .*img_0.jpg.*img_1.jpg'):
        model.train_step(bad_batch(), wrapper)
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
