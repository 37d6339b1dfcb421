import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmseg.registry import PARAM_SCHEDULERS


class Net(nn.Module):

    def __init__(self):
        super().__init__()
        self.backbone = nn.Linear(3, 3)
        self.head = nn.Linear(3, 1)

    def forward(self, x):
        return self.head(self.backbone(x))


def build(milestone=3):
    torch.manual_seed(0)
    model = Net()
    wrapper = build_optim_wrapper(model, dict(
        optimizer=dict(type='Adam', lr=1e-3),
        paramwise_cfg=dict(custom_keys={'backbone': dict(delayed=True)})))
    sched = PARAM_SCHEDULERS.build(dict(type='UnfreezeStepLR', milestone=milestone,
                                        gamma=0.1, by_epoch=False),
                                   default_args=dict(optimizer=wrapper))
    return model, wrapper, sched


def lrs(wrapper):
    groups = wrapper.optimizer.param_groups
    bb = {round(g['lr'], 12) for g in groups if g.get('delayed')}
    head = {round(g['lr'], 12) for g in groups if not g.get('delayed')}
    return bb, head


def test_backbone_held_at_zero_then_everything_at_gamma_lr():
    model, wrapper, sched = build(milestone=3)
    x = torch.randn(4, 3)
    seen = []
    bb0 = model.backbone.weight.detach().clone()
    head0 = model.head.weight.detach().clone()
    for it in range(5):
        seen.append(lrs(wrapper))
        if it == 2:  # last warm-up step: the backbone has not moved yet
            assert torch.equal(model.backbone.weight, bb0)
            assert not torch.equal(model.head.weight, head0)
        wrapper.update_params(model(x).pow(2).mean())
        sched.step()
    assert seen[:3] == [({0.0}, {1e-3})] * 3
    assert seen[3:] == [({1e-4}, {1e-4})] * 2
    assert not torch.equal(model.backbone.weight, bb0)
    # requires_grad never changed: DDP buckets stay valid.
    assert all(p.requires_grad for p in model.parameters())


def test_resume_restores_the_same_lrs():
    _, wrapper, sched = build(milestone=3)
    for _ in range(4):
        wrapper.optimizer.step()
        sched.step()
    state = sched.state_dict()
    _, wrapper2, sched2 = build(milestone=3)
    sched2.load_state_dict(state)
    wrapper2.optimizer.step()
    sched2.step()
    assert lrs(wrapper2) == ({1e-4}, {1e-4})
