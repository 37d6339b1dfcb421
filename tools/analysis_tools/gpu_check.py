#!/usr/bin/env python
"""`make gpu-check`: prove the GPU path users train on, in one command.

On a CUDA machine: the test suite's CUDA-parametrised tests; 300 iterations of
configs/apc/apc_vitb16_voc.py with --amp on generated VOC-layout data at 384
from random init (losses finite throughout, loss_pcl > 0 at some point,
loss_cls falling); tools/dist_train.sh on every visible GPU, then --resume
from its checkpoint; tools/dist_test.sh --out; the benchmark with --amp into
JSON. Prints one verdict table and exits 1 if anything failed. On one GPU
the multi-rank steps run 2 processes sharing it, so the per-rank code runs
with 2 ranks there too: they start as two one-process nodes (mmengine puts
each process on GPU LOCAL_RANK, 0 for both), over gloo (NCCL refuses two
ranks on one GPU), and the table says NCCL was not checked. On a machine
without a GPU it says so and exits 0: nothing was checked. Where `nvidia-smi -L`
lists a GPU that torch cannot use (a torch build for a newer CUDA than the
driver, a CPU build) it exits 1 and says what to install.

    python tools/analysis_tools/gpu_check.py [--work-dir work_dirs/gpu_check]
"""
import argparse
import contextlib
import glob
import json
import os
import os.path as osp
import shutil
import signal
import socket
import subprocess
import sys
import time

import torch
from mmengine.config import Config

from apc_lab.training_log import losses_verdict, read_loss_rows
from apc_mmseg.datasets import data_root_options

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/gpu_check/apc_vitb16_generated.py'
VERDICT = {True: 'PASS', False: 'FAIL', None: 'NOT CHECKED'}


def sh(cmd, log, nodes=1):
    """Run ``cmd`` with its output in ``log``; (True when it exits 0, detail).

    ``nodes`` > 1 (a dist_*.sh command): that many copies at once, as the
    one-process nodes of one run (dist_*.sh's NNODES and NODE_RANK), node i
    logging to ``log.node<i>`` from 1 on. When one fails the others are
    stopped: they would wait for it until the rendezvous times out. (A node's
    torchrun may log "Error waiting on exit barrier" when node 0, which holds
    the rendezvous store, ends first: harmless, its exit status stays 0.)
    """
    # dist_*.sh: a free port each time, not 29500 (another job may hold it)
    port = str(free_port())
    logs = [log] + [f'{log}.node{i}' for i in range(1, nodes)]
    procs = []
    for rank, path in enumerate(logs):
        env = dict(os.environ, PORT=port)
        if nodes > 1:
            env.update(NNODES=str(nodes), NODE_RANK=str(rank))
        with open(path, 'w') as f:  # nodes in their own groups, to stop them whole
            procs.append(subprocess.Popen(cmd, cwd=REPO, stdout=f, stderr=subprocess.STDOUT,
                                          env=env, start_new_session=nodes > 1))
    codes = wait_all(procs)
    detail = ', '.join(f'rc {c}, log {p}' for c, p in zip(codes, logs))
    return all(c == 0 for c in codes), detail


def wait_all(procs, poll_s=1.0):
    """The exit codes of ``procs``; once one fails (or this process is
    interrupted), the process groups of those still running (torchrun and
    its worker) are terminated."""
    try:
        while any(p.poll() is None for p in procs):
            if any(p.poll() not in (None, 0) for p in procs):
                break
            time.sleep(poll_s)
    finally:
        if len(procs) > 1:
            for p in procs:
                if p.poll() is None:
                    with contextlib.suppress(ProcessLookupError):  # it ended meanwhile
                        os.killpg(p.pid, signal.SIGTERM)
    return [p.wait() for p in procs]


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
        # One GPU: the multi-rank steps as 2 one-process nodes sharing it, over
        # gloo. One node of 2 processes would not do: mmengine puts a process
        # on GPU LOCAL_RANK (torch.cuda.set_device, DDP's device_ids), and
        # there is no GPU 1; NCCL refuses two ranks on one GPU.
        self.nodes = 2 if self.gpus == '1' else 1
        self.ranks = int(self.gpus) * self.nodes
        self.dist_opts = ['env_cfg.dist_cfg.backend=gloo'] if self.nodes > 1 else []
        self.on = (f'{self.gpus} GPU(s)' if self.nodes == 1 else
                   f'1 GPU x {self.ranks} processes (gloo)')
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
                 f'global_batch_size={4 * self.ranks}', *self.dist_opts]  # any GPU count
        run = ['bash', 'tools/dist_train.sh', CONFIG, self.gpus, '--amp', '--work-dir', dist_dir]
        self.step(f'dist_train.sh on {self.on}', sh(
            run + ['--cfg-options', *self.opts, *short, 'train_cfg.max_iters=20'],
            self.log('dist_train'), self.nodes))
        self.step('dist_train.sh --resume', sh(
            run + ['--resume', '--cfg-options', *self.opts, *short, 'train_cfg.max_iters=40'],
            self.log('resume'), self.nodes))
        resumed = 'resumed' in open(self.log('resume')).read().lower() and \
            osp.isfile(osp.join(dist_dir, 'iter_40.pth'))
        self.step('resume continued from iter_20', (resumed, 'iter_40.pth written after resuming'))
        if self.nodes > 1:
            self.step('NCCL between GPUs', (
                None, f'not checked: 1 GPU (the per-rank code ran with {self.ranks} ranks '
                'sharing it, over gloo: NCCL refuses two ranks on one GPU)'))

    def dist_test(self, checkpoint):
        out = osp.join(self.work, 'preds')
        ok, detail = sh(['bash', 'tools/dist_test.sh', CONFIG, checkpoint, self.gpus, '--out',
                         out, '--cfg-options', *self.opts, *self.dist_opts],
                        self.log('dist_test'), self.nodes)
        pngs = len(glob.glob(osp.join(out, '*.png')))
        self.step(f'dist_test.sh --out on {self.on}',
                  (ok and pngs == 8, f'{pngs} of 8 masks; {detail}'))

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
        print(f"{'check':48s} verdict  detail")
        for name, ok, detail in self.results:
            print(f'{name:48s} {VERDICT[ok]:7s}  {detail}')
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
