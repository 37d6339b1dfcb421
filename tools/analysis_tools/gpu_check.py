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


def no_cuda(gpus) -> int:
    """The exit status without a usable GPU: 1 (and why) when nvidia-smi lists
    GPUs that torch cannot use, else 0 (nothing to check)."""
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


class Checks:
    """The checks in order, each a row (name, True / False / None for not
    checked, detail) printed as it ends and tabled at the end."""

    def __init__(self, work: str, iters: int):
        self.work, self.iters = work, iters
        self.gpus = str(torch.cuda.device_count())
        self.py = sys.executable
        os.environ['PYTHON'] = self.py  # for dist_*.sh
        self.data = osp.join(work, 'data')
        roots = data_root_options(Config.fromfile(osp.join(REPO, CONFIG)), self.data)
        self.opts = [f'{k}={v}' for k, v in roots.items()]
        self.results = []

    def step(self, name, ok_detail):
        """``ok_detail``: (True, False or None for not checked, detail)."""
        self.results.append((name, *ok_detail))
        print(f'{name}: {VERDICT[ok_detail[0]]} ({ok_detail[1]})', flush=True)

    def log(self, name):
        return osp.join(self.work, name + '.log')

    def tests_and_data(self):
        self.step('CUDA-parametrised tests', sh([self.py, '-m', 'pytest', 'tests', '-q', '-k',
                                                 'cuda'], self.log('pytest')))
        self.step('synthetic VOC data', sh([self.py, 'tools/dataset_converters/make_demo_data.py',
                                            '--out', self.data, '--num-train', '128',
                                            '--num-val', '8'], self.log('data')))

    def train_amp(self):
        amp_dir = osp.join(self.work, 'amp_300')
        iters = self.iters
        ok, detail = sh([self.py, 'tools/train.py', CONFIG, '--amp', '--work-dir', amp_dir,
                         '--cfg-options', *self.opts, f'train_cfg.max_iters={iters}',
                         f'train_cfg.val_interval={iters}',
                         f'default_hooks.checkpoint.interval={iters}'], self.log('amp_300'))
        verdict = losses_verdict(read_loss_rows(amp_dir))
        self.step(f'train --amp {iters} iterations',
                  (ok and verdict[0], verdict[1] if ok else detail))

    def dist_train_and_resume(self, dist_dir):
        short = ['train_cfg.val_interval=1000', 'default_hooks.checkpoint.interval=20',
                 f'global_batch_size={4 * int(self.gpus)}']  # any GPU count
        run = ['bash', 'tools/dist_train.sh', CONFIG, self.gpus, '--amp', '--work-dir', dist_dir]
        self.step(f'dist_train.sh on {self.gpus} GPU(s)', sh(
            run + ['--cfg-options', *self.opts, *short, 'train_cfg.max_iters=20'],
            self.log('dist_train')))
        self.step('dist_train.sh --resume', sh(
            run + ['--resume', '--cfg-options', *self.opts, *short, 'train_cfg.max_iters=40'],
            self.log('resume')))
        resumed = 'resumed' in open(self.log('resume')).read().lower() and \
            osp.isfile(osp.join(dist_dir, 'iter_40.pth'))
        self.step('resume continued from iter_20', (resumed, 'iter_40.pth written after resuming'))
        if self.gpus == '1':
            # One process per GPU (NCCL): with world size 1, all_gather_object
            # returns at once, so the per-rank paths ran with one rank only.
            self.step('per-rank code on GPU', (
                None, 'not checked: 1 GPU, so world size 1 (random-state pooling, rank-wise '
                'metrics and masks ran for one rank); the 2-process gloo tests cover them on CPU'))

    def dist_test(self, checkpoint):
        out = osp.join(self.work, 'preds')
        ok, detail = sh(['bash', 'tools/dist_test.sh', CONFIG, checkpoint, self.gpus, '--out',
                         out, '--cfg-options', *self.opts], self.log('dist_test'))
        pngs = len(glob.glob(osp.join(out, '*.png')))
        self.step('dist_test.sh --out', (ok and pngs == 8, f'{pngs} of 8 masks; {detail}'))

    def benchmark(self):
        bench = osp.join(self.work, 'benchmark.json')
        ok, detail = sh([self.py, 'tools/analysis_tools/benchmark.py', CONFIG, '--amp', '--batch',
                         '16', '--skip', 'crf', '--out', bench], self.log('benchmark'))
        if ok:
            rep = json.load(open(bench))
            rates = rep['rates']
            detail = (f"{rates['train_images_per_s']:.1f} images/s, MFU "
                      f"{rates.get('model_flop_utilisation', float('nan')):.3f}, peak "
                      f"{rep['peak_memory_mb']:.0f} MiB, 15 VOC epochs "
                      f"{rates['voc_15_epochs_minutes']:.1f} min ({rep['train_dtype']})")
            run = rep.get('voc_run')
            if run:
                detail += (f"; the VOC schedule {run['total_minutes']:.1f} min with validation "
                           f"and checkpoints, bound by {run['bound']}")
        self.step('benchmark --amp', (ok, detail))

    def table(self) -> int:
        """Print the verdicts; 1 when a check failed (not checked is no failure)."""
        print(f'\ngpu-check on {torch.cuda.get_device_name(0)} x{self.gpus}, '
              f'torch {torch.__version__}')
        print(f"{'check':40s} verdict  detail")
        for name, ok, detail in self.results:
            print(f'{name:40s} {VERDICT[ok]:7s}  {detail}')
        return 0 if all(ok is not False for _, ok, _ in self.results) else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/gpu_check')
    parser.add_argument('--iters', type=int, default=300)
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        return no_cuda(listed_gpus())
    work = osp.abspath(args.work_dir)
    os.makedirs(work, exist_ok=True)
    checks = Checks(work, args.iters)
    checks.tests_and_data()
    checks.train_amp()
    dist_dir = osp.join(work, 'dist')
    checks.dist_train_and_resume(dist_dir)
    checks.dist_test(osp.join(dist_dir, 'iter_40.pth'))
    checks.benchmark()
    return checks.table()


if __name__ == '__main__':
    sys.exit(main())
