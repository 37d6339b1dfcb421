#!/usr/bin/env python
"""Time APC's parts in one run and report them as ratios (see BENCHMARKS.md).

Training step of the bare backbone and of the full model, inference with and
without flip, pooling and PCL alone, DenseCRF, the data loader; images/s,
TFLOP/s, FLOP utilisation on a known GPU, projected 15 VOC epochs.

    python tools/analysis_tools/benchmark.py configs/apc/apc_vitb16_voc.py --out bench.json
"""
import argparse

import torch

from apc_mmseg.apis.benchmark import PEAK_TFLOPS, run_benchmark


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--train-size', type=int, default=384)
    parser.add_argument('--test-size', type=int, default=960)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true',
                        help='autocast in the train step (bf16, or fp16 where a GPU lacks it)')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['train', 'infer', 'heads', 'crf', 'crf_eval', 'loader'])
    parser.add_argument('--loader-workers', type=int,
                        help="data-loader workers (default: the config's)")
    parser.add_argument('--loader-batches', type=int, default=100)
    parser.add_argument('--crf-eval-images', type=int, default=32,
                        help='images of the CRF-evaluation measurement')
    parser.add_argument('--peak-tflops', type=float,
                        help="the card's peak for the step's precision, for the FLOP "
                        'utilisation (known: ' + ', '.join(PEAK_TFLOPS['bfloat16']) + ')')
    parser.add_argument('--out', help='write the figures as JSON here')
    args = parser.parse_args(argv)
    report = run_benchmark(
        args.config, args.batch, args.train_size, args.test_size, args.device, args.amp,
        args.warmup, args.reps, args.skip, args.loader_workers, args.loader_batches,
        args.peak_tflops, args.out, args.crf_eval_images)
    print(f"{'what':36s} {'value':>10s}")
    for k, v in report['seconds'].items():
        print(f'{k:36s} {v:10.4f} s')
    for k, v in report['rates'].items():
        print(f'{k:36s} {v:10.3f}')
    for k, v in report['ratios'].items():
        print(f'{k:36s} {v:10.3f}x')
    print(f"{'peak memory (MiB)':36s} {report['peak_memory_mb']:10.0f}")


if __name__ == '__main__':
    main()
