"""tools/analysis_tools/benchmark.py end to end: every part, consistent ratios."""
import json
import sys

from helpers import DEMO_CONFIG, call_tool, run, tool_env


def test_runs_every_part_and_reports_consistent_ratios(tmp_path):
    # a process: the benchmark tunes glibc's malloc for good (malloc_tuned)
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
    # the schedule of the config projected part by part (its own iterations)
    projection = report['voc_run']
    minutes = projection['minutes']
    assert minutes['train_step'] == 3000 * 8 / rates['train_images_per_s'] / 60
    assert minutes['loader'] == 3000 * 8 / rates['loader_images_per_s'] / 60
    assert sec['checkpoint_save'] > 0 and projection['bound'] in ('train_step', 'loader')


def test_amp_run_on_cpu_is_bf16_and_finite(tmp_path):
    out = tmp_path / 'bench.json'
    call_tool('tools/analysis_tools/benchmark.py', [
        DEMO_CONFIG, '--batch', '2', '--train-size', '64', '--amp', '--warmup', '0', '--reps', '1',
        '--skip', 'infer', 'heads', 'crf', 'crf_eval', 'loader', '--out', out])
    report = json.loads(out.read_text())
    assert report['train_dtype'] == 'bfloat16' and report['seconds']['train_full'] > 0


def test_the_run_projection_against_hand_values():
    """A 10,000-iteration schedule at 16 images a step, validated every 1,000
    on 1,449 + 500 images, saved every 1,000: worked out by hand."""
    from mmengine.config import Config

    from apc_lab.profiling import project_voc_run
    cfg = Config(dict(global_batch_size=16, train_dataloader=dict(batch_size=16),
                      train_cfg=dict(max_iters=10000, val_interval=1000),
                      val_dataloader=dict(dataset=dict(num_train=500)),
                      model=dict(test_cfg=dict(flip=False)),
                      default_hooks=dict(checkpoint=dict(interval=1000))))
    rates = dict(train_images_per_s=400.0, loader_images_per_s=320.0)
    seconds = dict(infer_full=0.02, infer_full_flip=0.04)
    run = project_voc_run(cfg, rates, seconds, checkpoint_seconds=6.0)
    # 160,000 images: 400/s -> 6.667 min, 320/s -> 8.333 min (the bound);
    # 10 validations x 1,949 images x 0.02 s = 389.8 s = 6.497 min; 10 saves x 6 s = 1 min
    assert run['bound'] == 'loader'
    assert abs(run['minutes']['train_step'] - 6.6667) < 1e-3
    assert abs(run['minutes']['loader'] - 8.3333) < 1e-3
    assert abs(run['minutes']['validation'] - 6.4967) < 1e-3
    assert abs(run['minutes']['checkpoints'] - 1.0) < 1e-9
    assert abs(run['total_minutes'] - 15.83) < 1e-2
    assert abs(run['validation_share'] - 6.4967 / 15.83) < 1e-3
