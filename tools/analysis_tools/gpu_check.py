#!/usr/bin/env python
"""`make gpu-check`: prove the GPU path users train on, in one command.

On a CUDA machine: the test suite's CUDA-parametrised tests; 300 iterations of
configs/apc/apc_vitb16_voc.py with --amp on generated VOC-layout data at 384
from random init (losses finite throughout, loss_pcl > 0 at some point,
loss_cls falling); tools/dist_train.sh on every visible GPU, then --resume
from its checkpoint; tools/dist_test.sh --out; the benchmark with --amp into
JSON. Prints one verdict table and exits 1 if anything failed; on one GPU
the multi-rank steps run one rank, and the table says the per-rank code was
not checked there. On a machine
without a GPU it says so and exits 0: nothing was checked. Where `nvidia-smi -L`
lists a GPU that torch cannot use (a torch build for a newer CUDA than the
driver, a CPU build) it exits 1 and says what to install.

    python tools/analysis_tools/gpu_check.py [--work-dir work_dirs/gpu_check]
"""
import argparse
import glob
import json
import os
import os.path as osp
import shutil
import socket
import subprocess
import sys

import torch
from mmengine.config import Config

from apc_lab.training_log import losses_verdict, read_loss_rows
from apc_mmseg.datasets import data_root_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/gpu_check/apc_vitb16_generated.py'
VERDICT = {True: 'PASS', False: 'FAIL', None: 'NOT CHECKED'}


def sh(cmd, log):
    # dist_*.sh: a free port each time, not 29500 (another job may hold it)
    env = dict(os.environ, PORT=str(free_port()))
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT, env=env)
    return proc.returncode == 0, f'rc {proc.returncode}, log {log}'


def listed_gpus():
    """The GPUs the driver lists (`nvidia-smi -L`), [] without a driver."""
    if shutil.which('nvidia-smi') is None:
        return []
    try:
        out = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True,
                             timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.startswith('GPU ')]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/gpu_check')
    parser.add_argument('--iters', type=int, default=300)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        gpus = listed_gpus()
        if gpus:
            print(f'gpu-check: FAILED: nvidia-smi lists {len(gpus)} GPU(s) ({gpus[0]}) but '
                  f'torch {torch.__version__} (CUDA build {torch.version.cuda}) cannot use '
                  'them. A torch built for a newer CUDA than the driver supports sees no GPU '
                  '(`nvidia-smi` shows the driver\'s CUDA version): install the matching '
                  'build, e.g. `make clean-venv; make install TORCH_CUDA=cu126` (or unset '
                  f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r}).",
                  file=sys.stderr)
            return 1
        print(f'gpu-check: no CUDA device is visible (torch {torch.__version__}, '
              f'CUDA build {torch.version.cuda}); nothing was checked.')
        return 0
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    gpus = str(torch.cuda.device_count())
    py = sys.executable
    os.environ['PYTHON'] = py  # for dist_*.sh
    data = osp.join(work, 'data')
    roots = data_root_options(Config.fromfile(osp.join(REPO, CONFIG)), data)
    opts = [f'{k}={v}' for k, v in roots.items()]
    results = []

    def step(name, ok_detail):
        """``ok_detail``: (True, False or None for not checked, detail)."""
        results.append((name, *ok_detail))
        print(f'{name}: {VERDICT[ok_detail[0]]} ({ok_detail[1]})', flush=True)

    step('CUDA-parametrised tests', sh([py, '-m', 'pytest', 'tests', '-q', '-k', 'cuda'],
                                       osp.join(work, 'pytest.log')))
    step('synthetic VOC data', sh([py, 'tools/dataset_converters/make_demo_data.py', '--out',
                                   data, '--num-train', '128', '--num-val', '8'],
                                  osp.join(work, 'data.log')))
    amp_dir = osp.join(work, 'amp_300')
    ok, detail = sh([py, 'tools/train.py', CONFIG, '--amp', '--work-dir', amp_dir,
                     '--cfg-options', *opts, f'train_cfg.max_iters={args.iters}',
                     f'train_cfg.val_interval={args.iters}',
                     f'default_hooks.checkpoint.interval={args.iters}'],
                    osp.join(work, 'amp_300.log'))
    verdict = losses_verdict(read_loss_rows(amp_dir))
    step(f'train --amp {args.iters} iterations', (ok and verdict[0], verdict[1] if ok else detail))
    dist_dir = osp.join(work, 'dist')
    short = ['train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=20',
             f'global_batch_size={4 * int(gpus)}']  # any GPU count
    step(f'dist_train.sh on {gpus} GPU(s)', sh(
        ['bash', 'tools/dist_train.sh', CONFIG, gpus, '--amp', '--work-dir', dist_dir,
         '--cfg-options', *opts, *short, 'train_cfg.max_iters=20'],
        osp.join(work, 'dist_train.log')))
    step('dist_train.sh --resume', sh(
        ['bash', 'tools/dist_train.sh', CONFIG, gpus, '--amp', '--resume', '--work-dir',
         dist_dir, '--cfg-options', *opts, *short, 'train_cfg.max_iters=40'],
        osp.join(work, 'resume.log')))
    resumed = 'resumed' in open(osp.join(work, 'resume.log')).read().lower() and \
        osp.isfile(osp.join(dist_dir, 'iter_40.pth'))
    step('resume continued from iter_20', (resumed, 'iter_40.pth written after resuming'))
    if gpus == '1':
        # One process per GPU (NCCL): with world size 1, all_gather_object
        # returns at once, so the per-rank paths ran with one rank only.
        step('per-rank code on GPU', (None, 'not checked: 1 GPU, so world size 1 (random-state '
                                      'pooling, rank-wise metrics and masks ran for one rank); '
                                      'the 2-process gloo tests cover them on CPU'))
    out = osp.join(work, 'preds')
    ok, detail = sh(['bash', 'tools/dist_test.sh', CONFIG, osp.join(dist_dir, 'iter_40.pth'),
                     gpus, '--out', out, '--cfg-options', *opts],
                    osp.join(work, 'dist_test.log'))
    pngs = len(glob.glob(osp.join(out, '*.png')))
    step('dist_test.sh --out', (ok and pngs == 8, f'{pngs} of 8 masks; {detail}'))
    bench = osp.join(work, 'benchmark.json')
    ok, detail = sh([py, 'tools/analysis_tools/benchmark.py', CONFIG, '--amp', '--batch', '16',
                     '--skip', 'crf', '--out', bench], osp.join(work, 'benchmark.log'))
    if ok:
        rep = json.load(open(bench))
        rates = rep['rates']
        detail = (f"{rates['train_images_per_s']:.1f} images/s, MFU "
                  f"{rates.get('model_flop_utilisation', float('nan')):.3f}, peak "
                  f"{rep['peak_memory_mb']:.0f} MiB, 15 VOC epochs "
                  f"{rates['voc_15_epochs_minutes']:.1f} min ({rep['train_dtype']})")
        run = rep.get('voc_run')
        if run:
            detail += (f"; the VOC schedule {run['total_minutes']:.1f} min with validation and "
                       f"checkpoints, bound by {run['bound']}")
    step('benchmark --amp', (ok, detail))
    print(f'\ngpu-check on {torch.cuda.get_device_name(0)} x{gpus}, torch {torch.__version__}')
    print(f"{'check':40s} verdict  detail")
    for name, ok, detail in results:
        print(f'{name:40s} {VERDICT[ok]:7s}  {detail}')
    return 0 if all(ok is not False for _, ok, _ in results) else 1


if __name__ == '__main__':
    sys.exit(main())
