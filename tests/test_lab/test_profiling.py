"""The benchmark's FLOP counting and checks, against counts by hand."""
import pytest
import torch

from apc_lab import profiling


def test_flop_counter_counts_linear_and_cpu_attention_by_hand():
    lin = torch.nn.Linear(16, 8, bias=False)
    x = torch.randn(4, 16)
    assert profiling.count_flops(lambda: lin(x)) == 2 * 4 * 16 * 8
    # Attention: Q·Kᵀ and A·V, each 2·B·heads·L·S·E multiply-adds.
    q, k, v = (torch.randn(1, 2, 8, 4) for _ in range(3))
    flops = profiling.count_flops(
        lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
    assert flops == 2 * (2 * 1 * 2 * 8 * 8 * 4)


def test_lstm_flops_by_hand():
    lstm = torch.nn.LSTM(4, 2, bidirectional=True)
    x = torch.randn(5, 3, 4)  # 15 tokens
    # per direction: 2 FLOP x 15 tokens x 4 gates x 2 hidden x (4 inputs + 2 hidden)
    fwd = 2 * (2 * 15 * 4 * 2 * (4 + 2))
    with torch.no_grad():
        assert profiling.count_flops(lambda: lstm(x), lstm) == fwd
    # the input projection and recurrence again for the gradients, twice over
    assert profiling.count_flops(lambda: lstm(x)[0].sum().backward(), lstm) == 3 * fwd


def test_a_non_finite_step_reports_no_speed():
    values = torch.tensor([[0.5, 0.1], [0.4, float('nan')], [0.3, 0.1]])
    with pytest.raises(RuntimeError, match=r"non-finite \['loss_pcl'\] in 1 of 3"):
        profiling.check_finite(values, ['loss_cls', 'loss_pcl'], torch.bfloat16)
    profiling.check_finite(values[[0, 2]], ['loss_cls', 'loss_pcl'], torch.float32)


def test_flop_utilisation_uses_the_peak_of_the_steps_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *a: 'NVIDIA H100 80GB HBM3')
    cuda = torch.device('cuda')
    assert profiling.peak_tflops(cuda, None, 'bfloat16') == 989.
    assert profiling.peak_tflops(cuda, None, 'float32') == 495.  # TF32, not bf16
    assert profiling.peak_tflops(cuda, 123., 'float32') == 123.
