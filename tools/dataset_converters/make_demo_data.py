#!/usr/bin/env python
"""Generate a weak-label data set in VOC layout (seeded): photo, demo or hard, with a test split."""
import argparse

from apc_lab.demo_data import GENERATED_SETS, NotGeneratedFolderError, generate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--num-test', type=int, default=100,
                        help='test images, drawn from their own seed (TEST_SEED + --seed)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--dataset', choices=sorted(GENERATED_SETS), default='demo',
                        help="'demo': 3 shape classes; 'hard': 6, smaller objects, textured "
                        "backgrounds; 'photo': real photographs on other photographs, 5 classes")
    args = parser.parse_args(argv)
    try:
        generate(args.out, args.num_train, args.num_val, args.seed, args.dataset, args.num_test)
    except NotGeneratedFolderError as e:  # a folder of the user's, or a link out of it
        raise SystemExit(f'--out: {e}') from e
    print(f'wrote {args.num_train} train, {args.num_val} val and {args.num_test} test images '
          f'to {args.out}')


if __name__ == '__main__':
    main()
