"""tools/analysis_tools/benchmark.py end to end: every part, consistent ratios."""
import json
import sys

from helpers import DEMO_CONFIG, run, tool_env


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


def test_amp_run_on_cpu_is_bf16_and_finite(tmp_path):
    out = tmp_path / 'bench.json'
    run([sys.executable, 'tools/analysis_tools/benchmark.py', DEMO_CONFIG, '--batch', '2',
         '--train-size', '64', '--amp', '--warmup', '0', '--reps', '1', '--skip', 'infer',
         'heads', 'crf', 'crf_eval', 'loader', '--out', str(out)], tool_env())
    report = json.loads(out.read_text())
    assert report['train_dtype'] == 'bfloat16' and report['seconds']['train_full'] > 0
