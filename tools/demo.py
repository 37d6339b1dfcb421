#!/usr/bin/env python
"""The README's main job (`make demo`): fine-tune APC from image tags on a
generated set on CPU (the photo set with the ImageNet EfficientNet-Lite0 by
default), evaluate it on the test split against baselines, draw heat maps and
overlays, and print one table (apc_lab.demo). With several --seeds: one run per seed,
each figure as mean ± std with the per-seed values. With --ablations: the
paper's pooling and patch-contrast ablations on the sets, pretrained and from
scratch (apc_lab.ablation), as markdown tables."""
import argparse
import contextlib
import multiprocessing
import os.path as osp
import signal
import sys
import threading

from apc_lab.numerics import pin_isa

pin_isa()  # before torch loads (apc_lab/numerics.py: the same figures on any machine)

from mmengine.config import DictAction  # noqa: E402

import apc_mmseg  # noqa: F401,E402  (registers the components)
from apc_lab.demo import demo_fingerprint, demo_table, run_demo, run_demo_seeds  # noqa: E402
from apc_lab.demo_data import NotGeneratedFolderError, check_output_folder  # noqa: E402
from apc_lab.figures import write_figures  # noqa: E402

CONFIGS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs/apc')
DATASET_DEFAULTS = dict(  # config, data, work dir; the first is the default
    photo=(osp.join(CONFIGS, 'apc_efficientnet-lite0_photo_cpu.py'), 'data/demo_photo',
           'work_dirs/demo_photo'),
    demo=(osp.join(CONFIGS, 'apc_demo_cpu.py'), 'data/demo', 'work_dirs/demo'),
    hard=(osp.join(CONFIGS, 'apc_demo_hard_cpu.py'), 'data/demo_hard', 'work_dirs/demo_hard'))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--dataset', choices=sorted(DATASET_DEFAULTS),
                        help="the generated set: 'photo' (the default: real photographs, 5 "
                        "classes, the ImageNet EfficientNet-Lite0), 'demo' (3 shape classes, "
                        "the demo ViT) or 'hard' (6 classes, smaller objects, textured "
                        'backgrounds); sets the defaults below (--ablations: every set '
                        'unless given)')
    parser.add_argument('--config', help='default: the set\'s config (DATASET_DEFAULTS)')
    parser.add_argument('--data', help='default: data/demo_photo, data/demo, data/demo_hard')
    parser.add_argument('--work-dir', help='default: work_dirs/demo_photo, ...')
    parser.add_argument('--iters', type=int,
                        help='training iterations (default: config; --ablations: 1000)')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--num-test', type=int, default=100)
    parser.add_argument('--eval-split', choices=['test', 'val'], default='test',
                        help="where the figures are measured: 'test' (drawn from a seed no "
                        "choice was made on) or 'val' (for choosing settings)")
    parser.add_argument('--workers', type=int, default=2, help='CRF worker processes')
    parser.add_argument('--seeds', type=int, nargs='+',
                        help='one run per seed (work dirs <work-dir>/seed_<s> when several; '
                        'default: 0, --ablations: 0 1 2)')
    parser.add_argument('--from-scratch', action='store_true',
                        help='train the backbone from random weights (default: from its '
                        'pretrained checkpoint: ImageNet for the photo set, the tag-pretrained '
                        'demo ViT for the others; '
                        '--ablations: both unless given)')
    parser.add_argument('--into', metavar='PAGE:NAME',
                        help='also write the table into block NAME of PAGE (e.g. '
                        'README.md:demo) with its fingerprint (apc_lab/figures.py)')
    parser.add_argument('--ablations', action='store_true',
                        help='the ablation tables instead of the demo: every --variants '
                        'entry x seed x set x start, into --work-dir (default '
                        'work_dirs/ablations; finished runs with the same settings are reused)')
    parser.add_argument('--variants', nargs='+',
                        help='with --ablations (default: all; the names: apc_lab/ablation.py, '
                        'ABLATIONS)')
    parser.add_argument('--starts', nargs='+', choices=['pretrained', 'scratch'],
                        help='with --ablations (default: both; --from-scratch: scratch)')
    parser.add_argument('--jobs', type=int, default=1,
                        help='with --ablations: runs at a time, one torch thread each')
    parser.add_argument('--against', nargs=2, metavar=('CONFIG', 'WORK_DIR'),
                        help='with --ablations, --dataset and --config: train (or reuse) the '
                        'same runs under CONFIG in WORK_DIR too, and table --config minus '
                        'CONFIG, paired over seeds (apc_lab/config_comparison.py)')
    parser.add_argument('--comparisons', type=int, default=1,
                        help='with --against: how many comparisons its intervals are '
                        'Bonferroni-widened over (a pre-registered family; default 1)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config settings, as in tools/train.py (--ablations: '
                        'on top of every variant)')
    return parser.parse_args(argv)


def check_data_folders(folders) -> None:
    """Stop before any training where a --data folder is not one the
    generator may write into (``apc_lab.demo_data.check_output_folder``)."""
    for folder in folders:
        try:
            check_output_folder(folder)
        except NotGeneratedFolderError as e:
            raise SystemExit(f'--data: {e}') from e


@contextlib.contextmanager
def pool_stops_with_us():
    """While the ablation's pool trains, a SIGTERM to this process (a plain
    ``kill``, a scheduler stopping the job) terminates the pool's workers too:
    left alone they would go on training every queued run. Ctrl-C needs no
    help (the terminal signals the whole process group). The previous handler
    is restored on the way out."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers
        return

    def stop(signum, frame):
        for child in multiprocessing.active_children():
            child.terminate()
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def ablations(args, argv=None):
    # imported here: a demo run loads no ablation code, so its figure block's
    # fingerprint does not go stale when only the ablation's code changes
    from apc_lab.ablation import (
        ABLATIONS,
        ablation_fingerprint,
        ablation_tables,
        claims_table,
        run_ablations,
    )
    from apc_lab.config_comparison import (
        compare_configs,
        comparison_fingerprint,
        comparison_table,
    )
    unknown = sorted(set(args.variants or ()) - set(ABLATIONS))
    if unknown:
        raise SystemExit(f'--variants: unknown {unknown}; choose from {sorted(ABLATIONS)}')
    if (args.config or args.data or args.against) and not args.dataset:
        raise SystemExit('--ablations with --config, --data or --against: name the set with '
                         '--dataset (each set has its own config and data)')
    if args.against and not args.config:
        raise SystemExit('--against: give the config it is compared with (--config)')
    datasets = {name: (args.config or DATASET_DEFAULTS[name][0],
                       args.data or DATASET_DEFAULTS[name][1])
                for name in ([args.dataset] if args.dataset else DATASET_DEFAULTS)}
    check_data_folders(data for _, data in datasets.values())
    work_dir = args.work_dir or 'work_dirs/ablations'
    run = dict(seeds=args.seeds or [0, 1, 2], iters=args.iters or 1000, variants=args.variants,
               starts=args.starts or (['scratch'] if args.from_scratch
                                      else ['pretrained', 'scratch']),
               num_train=args.num_train, num_val=args.num_val, jobs=args.jobs,
               cfg_options=args.cfg_options)
    sizes = (args.iters or 1000, args.num_train, args.num_val, args.num_test, args.cfg_options)
    if args.against:
        config, data = datasets[args.dataset]
        with pool_stops_with_us():
            result = compare_configs(args.dataset, data, config, args.against[0], work_dir,
                                     args.against[1], **run)
        table, out = comparison_table(result, args.comparisons), 'comparison'
        parts = args.into and comparison_fingerprint(args.dataset, data,
                                                     (config, args.against[0]), *sizes)
    else:
        with pool_stops_with_us():
            result = run_ablations(datasets, work_dir, **run)
        table, out = claims_table(result) + '\n\n' + ablation_tables(result), 'ablations'
        parts = args.into and ablation_fingerprint(datasets, *sizes)
    with open(f'{work_dir}/{out}.md', 'w') as f:
        f.write(table)
    if args.into:
        page, name = args.into.split(':')
        command = 'python tools/demo.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
        key = write_figures(page, name, table, command, parts)
        print(f'written into {page}: fingerprint {key}')
    print(f'\n{table}\nall figures: {work_dir}/{out}.json; this table: {work_dir}/{out}.md')


def main(argv=None):
    args = parse_args(argv)
    if args.ablations:
        return ablations(args, argv)
    args.dataset = args.dataset or next(iter(DATASET_DEFAULTS))
    args.seeds = args.seeds or [0]
    defaults = DATASET_DEFAULTS[args.dataset]
    args.config, args.data, args.work_dir = (
        given or default for given, default in zip((args.config, args.data, args.work_dir),
                                                   defaults))
    check_data_folders([args.data])
    common = dict(iters=args.iters, num_train=args.num_train, num_val=args.num_val,
                  workers=args.workers, dataset=args.dataset, cfg_options=args.cfg_options,
                  from_scratch=args.from_scratch, num_test=args.num_test,
                  eval_split=args.eval_split)
    if len(args.seeds) == 1:
        summary = run_demo(args.config, args.data, args.work_dir, seed=args.seeds[0], **common)
    else:
        summary = run_demo_seeds(args.config, args.seeds, args.data, args.work_dir, **common)
    start = 'from scratch' if args.from_scratch else 'pretrained'
    table = demo_table(summary, f'APC {args.dataset}, {start}', args.seeds, args.eval_split)
    print('\n' + table)
    if args.into:
        page, name = args.into.split(':')
        parts = demo_fingerprint(args.config, args.data, args.seeds, **common)
        command = 'python tools/demo.py ' + ' '.join(argv if argv is not None else sys.argv[1:])
        key = write_figures(page, name, f'```\n{table}\n```', command, parts)
        print(f'written into {page} (block {name}, fingerprint {key})')
    if len(args.seeds) == 1:
        print(f"\ntraining {summary['train_seconds'] / 60:.1f} min, whole demo "
              f"{summary['total_seconds'] / 60:.1f} min; pseudo masks "
              f"{summary['pseudo_images_per_s']:.1f} images/s, with CRF "
              f"{summary['pseudo_crf_images_per_s']:.1f} images/s; pictures in "
              f"{summary['vis_dir']}")
    else:
        print(f'\nper run: {args.work_dir}/seed_<s>/summary.json (per-class IoU included); '
              f'all: {args.work_dir}/seeds_summary.json')


if __name__ == '__main__':
    main()
