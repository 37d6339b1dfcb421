import json

import torch

import benchmark
from conftest import DEMO_CONFIG


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
    report = benchmark.main([DEMO_CONFIG, '--batch', '2', '--train-size', '96',
                             '--test-size', '96', '--warmup', '0', '--reps', '2',
                             '--skip', 'crf', '--loader-workers', '0',
                             '--loader-batches', '3', '--out', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(report))
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
