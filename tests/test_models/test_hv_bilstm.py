import pytest
import torch

from apc_mmseg.models import HVBiLSTM


def test_shapes_and_other_levels_pass_through():
    neck = HVBiLSTM(in_channels=32)
    assert neck.hidden_channels == 8 and neck.out_channels == 32
    feats = (torch.randn(2, 16, 6, 5), torch.randn(2, 32, 6, 5))
    out = neck(feats)
    assert out[0] is feats[0]
    assert out[1].shape == (2, 32, 6, 5)
    assert HVBiLSTM(32, hidden_channels=5)(feats)[1].shape == (2, 20, 6, 5)


def test_a_patch_only_affects_its_row_and_column():
    torch.manual_seed(0)
    neck = HVBiLSTM(in_channels=8).eval()
    x = torch.randn(2, 8, 5, 6)
    y = x.clone()
    y[1, :, 2, 3] += 1.0
    diff = (neck((x,))[0] - neck((y,))[0]).abs().amax(dim=1)  # B, H, W
    assert diff[0].max() == 0  # other images untouched
    changed = diff[1] > 0
    expect = torch.zeros(5, 6, dtype=torch.bool)
    expect[2, :] = True
    expect[:, 3] = True
    assert torch.equal(changed, expect)


def test_forget_gate_bias_is_one():
    neck = HVBiLSTM(in_channels=8)
    h = neck.hidden_channels
    neck.init_weights()
    for lstm in (neck.lstm_h, neck.lstm_v):
        total = lstm.bias_ih_l0 + lstm.bias_hh_l0
        assert torch.equal(total[h:2 * h], torch.ones(h))
        rev = lstm.bias_ih_l0_reverse + lstm.bias_hh_l0_reverse
        assert torch.equal(rev[h:2 * h], torch.ones(h))


def test_input_dropout_is_active_in_training():
    neck = HVBiLSTM(in_channels=8, dropout=0.5).train()
    x = (torch.randn(1, 8, 4, 4),)
    torch.manual_seed(1)
    a = neck(x)[0]
    torch.manual_seed(2)
    b = neck(x)[0]
    assert not torch.allclose(a, b)
    neck.eval()
    assert torch.equal(neck(x)[0], neck(x)[0])


def test_matches_an_lstm_run_on_each_row_and_column():
    """Reference: every row (and column) fed alone, batch-first, through the
    neck's own LSTMs; output channels = [horizontal 2h, vertical 2h]."""
    torch.manual_seed(0)
    neck = HVBiLSTM(in_channels=8, hidden_channels=3).eval().double()
    x = torch.randn(2, 8, 4, 5, dtype=torch.float64)
    out = neck((x,))[0]
    assert out.shape == (2, 12, 4, 5)
    for b in range(2):
        for i in range(4):
            row = x[b, :, i, :].t()[:, None]  # W, 1, D (sequence-first)
            ref = neck.lstm_h(row)[0][:, 0].t()  # 2h, W
            torch.testing.assert_close(out[b, :6, i, :], ref)
        for j in range(5):
            col = x[b, :, :, j].t()[:, None]
            ref = neck.lstm_v(col)[0][:, 0].t()  # 2h, H
            torch.testing.assert_close(out[b, 6:, :, j], ref)


# --------------------------------------------------------- mixed precision
class CudaRNNAutocast:
    """CUDA's autocast for ``nn.LSTM``, on CPU.

    Under any CUDA autocast, torch's autocast kernel for ``_cudnn_rnn``
    (``aten/src/ATen/cudnn/AutocastRNN.cpp``: ``cached_cast(at::kHalf, ...)``)
    casts the input, hidden state and weights to float16, whatever the
    autocast dtype, so the output and the gradient flowing back into the
    LSTM are float16. Patched in where ``nn.LSTM`` calls ``_VF.lstm``: while
    autocast is on for the input's device, the arguments are rounded to
    float16, the LSTM runs, and its outputs are float16.
    """

    def __init__(self, vf):
        self._vf = vf

    def __getattr__(self, name):
        return getattr(self._vf, name)

    def lstm(self, input, hx, weights, *args):
        if not torch.is_autocast_enabled(input.device.type):
            return self._vf.lstm(input, hx, weights, *args)

        def half(t):
            return t.half().float()
        with torch.autocast(input.device.type, enabled=False):
            outs = self._vf.lstm(half(input), tuple(half(h) for h in hx),
                                 [half(w) for w in weights], *args)
        return tuple(o.half() for o in outs)


@pytest.fixture
def cuda_rnn_autocast(monkeypatch):
    from torch.nn.modules import rnn
    monkeypatch.setattr(rnn, '_VF', CudaRNNAutocast(rnn._VF))


def autocast_dtypes():
    dtypes = [torch.bfloat16]
    try:  # CPU autocast takes fp16 in recent torch releases
        with torch.autocast('cpu', dtype=torch.float16):
            torch.ones(2, 2) @ torch.ones(2, 2)
        dtypes.append(torch.float16)
    except RuntimeError:
        pass
    return dtypes


@pytest.mark.parametrize('cuda_like', [False, True], ids=['cpu-autocast', 'cuda-rnn-autocast'])
@pytest.mark.parametrize('dtype', autocast_dtypes(), ids=str)
def test_every_lstm_of_the_model_computes_in_float32_under_autocast(
        dtype, cuda_like, request, device):
    """The VOC model (at 64 x 64), forward under autocast: each ``nn.LSTM``'s
    output is float32, on CPU's autocast and under CUDA's RNN autocast."""
    if cuda_like:
        request.getfixturevalue('cuda_rnn_autocast')
    from helpers import REPO
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(f'{REPO}/configs/apc/apc_vitb16_voc.py').model
    cfg.backbone.init_cfg = None
    cfg.backbone.img_size = 64
    model = MODELS.build(cfg).to(device)
    lstms = [m for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    seen = []
    for m in lstms:
        m.register_forward_hook(lambda mod, args, out: seen.append(out[0].dtype))
    with torch.autocast(device.type, dtype=dtype):
        feats = model.extract_feat(torch.randn(1, 3, 64, 64, device=device))
    assert len(lstms) == 2 and seen == [torch.float32] * 2, seen
    assert feats[-1].dtype == torch.float32


def pcl_gradients(batch, autocast, device):
    """Gradients of L_pcl at Z (the neck's output) and of L_cls + L_pcl at the
    neck's input, at VOC's shapes (24 x 24 patches, D = 768, 21 classes) with
    the VOC config's heads and weights."""
    from helpers import REPO
    from mmengine.config import Config
    from mmseg.registry import MODELS
    cfg = Config.fromfile(f'{REPO}/configs/apc/apc_vitb16_voc.py').model
    torch.manual_seed(0)
    neck = MODELS.build(cfg.neck).to(device).eval()  # eval: no dropout masks to match
    head = MODELS.build(cfg.weak_head).to(device).eval()
    head.init_weights()
    with torch.no_grad():
        head.classifier.weight.mul_(50)  # confident patches: non-empty PCL sets
    pcl = MODELS.build(cfg.pcl_loss)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(batch, 768, 24, 24, generator=g).to(device).requires_grad_()
    labels = torch.zeros(batch, 21)
    labels[:, 0] = 1
    labels[torch.arange(batch), torch.randint(1, 21, (batch,), generator=g)] = 1
    labels = labels.to(device)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
        z = neck((x,))[0]
        z.retain_grad()
        probs = head((z,))
        loss_pcl = pcl(z, probs, labels)
        loss_cls = head.loss_by_probs(probs, labels)['loss_cls']
    assert loss_pcl > 0
    z_grad, = torch.autograd.grad(loss_pcl, z, retain_graph=True)
    (loss_pcl + loss_cls).backward()
    return z_grad.float(), x.grad.float()


@pytest.mark.parametrize('batch', [16, 2])
def test_pcl_gradient_survives_cuda_rnn_autocast(batch, cuda_rnn_autocast, device):
    """bf16 ``--amp`` has no loss scaler: with the LSTMs in float16 (CUDA's
    RNN autocast) L_pcl's gradient at Z, ~1e-9 here, falls below float16's
    smallest subnormal (6e-8) and vanishes. With the neck in float32 it
    matches the float32 run to float32 rounding (rtol 1e-4 of the largest
    gradient)."""
    z_ref, x_ref = pcl_gradients(batch, False, device)
    z_amp, x_amp = pcl_gradients(batch, True, device)
    tiny = torch.finfo(torch.float16).smallest_normal * 2 ** -10  # the smallest subnormal
    assert (z_ref.abs() < tiny).float().mean() > 0.5, 'the gradients would survive float16'
    for ref, amp in ((z_ref, z_amp), (x_ref, x_amp)):
        assert amp.abs().max() > 0
        torch.testing.assert_close(amp, ref, rtol=1e-4, atol=1e-4 * ref.abs().max().item())
