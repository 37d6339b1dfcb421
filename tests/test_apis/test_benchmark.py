import json
import sys

import pytest
import torch
from helpers import DEMO_CONFIG, run, tool_env

from apc_mmseg.apis import benchmark


def test_flop_counter_counts_linear_and_cpu_attention_by_hand():
    lin = torch.nn.Linear(16, 8, bias=False)
    x = torch.randn(4, 16)
    assert benchmark.count_flops(lambda: lin(x)) == 2 * 4 * 16 * 8
    # Attention: Q·Kᵀ and A·V, each 2·B·heads·L·S·E multiply-adds.
    q, k, v = (torch.randn(1, 2, 8, 4) for _ in range(3))
    flops = benchmark.count_flops(
        lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
    assert flops == 2 * (2 * 1 * 2 * 8 * 8 * 4)


def test_lstm_flops_by_hand():
    lstm = torch.nn.LSTM(4, 2, bidirectional=True)
    x = torch.randn(5, 3, 4)  # 15 tokens
    # per direction: 2 FLOP x 15 tokens x 4 gates x 2 hidden x (4 inputs + 2 hidden)
    fwd = 2 * (2 * 15 * 4 * 2 * (4 + 2))
    with torch.no_grad():
        assert benchmark.count_flops(lambda: lstm(x), lstm) == fwd
    # the input projection and recurrence again for the gradients, twice over
    assert benchmark.count_flops(lambda: lstm(x)[0].sum().backward(), lstm) == 3 * fwd


def test_runs_every_part_and_reports_consistent_ratios(tmp_path):
    out = tmp_path / 'bench.json'
    run([sys.executable, 'tools/analysis_tools/benchmark.py', DEMO_CONFIG, '--batch', '2',
         '--train-size', '96', '--test-size', '96', '--warmup', '0', '--reps', '2',
         '--skip', 'crf', '--loader-workers', '0', '--loader-batches', '3',
         '--crf-eval-images', '3', '--out', str(out)], tool_env())
    report = json.loads(out.read_text())
    sec, rates, ratios = report['seconds'], report['rates'], report['ratios']
    for key in ('train_backbone', 'train_full', 'infer_backbone', 'infer_full',
                'infer_full_flip', 'akp_pooling', 'pcl_loss_fwd_bwd'):
        assert sec[key] > 0, key
    assert ratios['train_full / train_backbone'] == sec['train_full'] / sec['train_backbone']
    assert rates['train_images_per_s'] == 2 / sec['train_full']
    assert rates['voc_15_epochs_minutes'] == 15 * 10582 / rates['train_images_per_s'] / 60
    assert rates['loader_images_per_s'] > 0 and rates['loader_workers'] == 0
    assert rates['train_tflop_per_s'] > 0
    assert 'model_flop_utilisation' not in rates  # no peak known for a CPU
    assert report['malloc_tuned'] is True
    # the evaluation's CRF, image after image and in the pool: the same mIoU
    assert rates['crf_eval_serial_miou'] == rates['crf_eval_pool_miou'] > 0
    assert ratios['crf_eval pool / serial (images/s)'] == \
        rates['crf_eval_pool_images_per_s'] / rates['crf_eval_serial_images_per_s']


def test_a_non_finite_step_reports_no_speed():
    values = torch.tensor([[0.5, 0.1], [0.4, float('nan')], [0.3, 0.1]])
    with pytest.raises(RuntimeError, match=r"non-finite \['loss_pcl'\] in 1 of 3"):
        benchmark.check_finite(values, ['loss_cls', 'loss_pcl'], torch.bfloat16)
    benchmark.check_finite(values[[0, 2]], ['loss_cls', 'loss_pcl'], torch.float32)


def test_flop_utilisation_uses_the_peak_of_the_steps_precision(monkeypatch):
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda *a: 'NVIDIA H100 80GB HBM3')
    cuda = torch.device('cuda')
    assert benchmark.peak_tflops(cuda, None, 'bfloat16') == 989.
    assert benchmark.peak_tflops(cuda, None, 'float32') == 495.  # TF32, not bf16
    assert benchmark.peak_tflops(cuda, 123., 'float32') == 123.


def test_amp_run_on_cpu_is_bf16_and_finite(tmp_path):
    report = benchmark.run_benchmark(DEMO_CONFIG, batch=2, train_size=64, amp=True, warmup=0,
                                     reps=1, skip=('infer', 'heads', 'crf', 'crf_eval', 'loader'))
    assert report['train_dtype'] == 'bfloat16' and report['seconds']['train_full'] > 0
