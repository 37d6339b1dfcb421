#!/usr/bin/env python
"""Pretrain the demo's small ViT from image tags on the generated pretraining world
(24 classes that share no shape, texture, colour or background with the demo
sets) and write the checkpoint the demo configs load (apc_lab.pretrain).
Prints the held-out exact match and mAP and the file's SHA-256."""
import argparse
import json
import os.path as osp
import sys

from apc_lab.numerics import pin_isa

pin_isa()  # before torch loads (apc_lab/numerics.py): the same bytes on any x86 machine

import apc_mmseg  # noqa: F401,E402  (registers the components)
from apc_lab.figures import REPO, fingerprint, write_figures  # noqa: E402
from apc_lab.numerics import fix_numerics  # noqa: E402
from apc_lab.pretrain import DEMO_CHECKPOINT, pretrain_backbone, pretraining_table  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/apc/apc_demo_cpu.py',
                        help="the config whose backbone is pretrained")
    parser.add_argument('--out', default=DEMO_CHECKPOINT, help='checkpoint to write')
    parser.add_argument('--iters', type=int, default=3000)
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--num-images', type=int, default=9600)
    parser.add_argument('--lr', type=float, default=1e-3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--summarise', nargs='+', metavar='CKPT',
                        help='instead of training: a table of these checkpoints\' records '
                        '(seed, iterations, held-out exact match and mAP)')
    parser.add_argument('--into', metavar='PAGE:NAME',
                        help='with --summarise: write the table into a page (apc_lab/figures.py)')
    return parser.parse_args(argv)


def summarise(args, argv):
    try:  # a broken or untrusted file: its name and the problem, not a traceback
        table = pretraining_table(args.summarise)
    except (RuntimeError, FileNotFoundError) as e:
        raise SystemExit(str(e))
    print(table)
    if args.into:
        page, name = args.into.split(':')
        # the checkpoints kept in the repository (the others: SHA-256 in the table)
        checkpoints = [rel for rel in (osp.relpath(osp.realpath(p), REPO) for p in args.summarise)
                       if rel.startswith('apc_lab' + osp.sep)]
        command = 'python tools/pretrain_demo_vit.py ' + ' '.join(
            argv if argv is not None else sys.argv[1:])
        key = write_figures(page, name, table, command, fingerprint({}, checkpoints, []))
        print(f'written into {page} (fingerprint {key})')


def main(argv=None):
    args = parse_args(argv)
    if args.summarise:
        return summarise(args, argv)
    fix_numerics()
    report = pretrain_backbone(args.config, args.out, args.iters, args.batch_size,
                               args.num_images, args.lr, args.seed)
    print(json.dumps(report, indent=1))
    print(f"{args.out}: held-out exact match {100 * report['exact_match']:.1f} %, mAP "
          f"{100 * report['mAP']:.1f} %, {len(report['classes'])} classes, "
          f"{report['seconds'] / 60:.1f} min, SHA-256 {report['sha256']}")


if __name__ == '__main__':
    main()
