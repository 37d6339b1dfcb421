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
