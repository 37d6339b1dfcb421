import pytest
import torch

from apc_mmseg.models.layers import UniformMaskDropout


@pytest.mark.parametrize('p', [0.2, 0.5])
def test_keeps_1_minus_p_and_rescales(p):
    torch.manual_seed(0)
    drop = UniformMaskDropout(p).train()
    x = torch.ones(200_000, requires_grad=True)
    y = drop(x)
    kept = y != 0
    # 200k Bernoulli draws: the kept fraction is within 4 sigma of 1 - p.
    sigma = (p * (1 - p) / x.numel()) ** 0.5
    assert abs(kept.float().mean().item() - (1 - p)) < 4 * sigma
    assert torch.allclose(y[kept], torch.full_like(y[kept], 1 / (1 - p)))
    y.sum().backward()
    # The gradient passes exactly where the element was kept, scaled alike.
    assert torch.equal(x.grad, y.detach())


def test_identity_in_eval_and_for_p_0():
    x = torch.randn(4, 5)
    assert UniformMaskDropout(0.3).eval()(x) is x
    assert UniformMaskDropout(0.0).train()(x) is x
    assert torch.equal(UniformMaskDropout(1.0).train()(x), torch.zeros_like(x))
