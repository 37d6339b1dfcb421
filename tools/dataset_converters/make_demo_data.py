#!/usr/bin/env python
"""Generate a demo weak-label data set in VOC layout (seeded): the demo's or the harder one."""
import argparse

from apc_lab.demo_data import GENERATED_SETS, generate


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/demo')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--dataset', choices=sorted(GENERATED_SETS), default='demo',
                        help="'demo': 3 classes; 'hard': 6 classes, smaller objects, "
                        'textured backgrounds')
    args = parser.parse_args(argv)
    generate(args.out, args.num_train, args.num_val, args.seed, args.dataset)
    print(f'wrote {args.num_train} train and {args.num_val} val images to {args.out}')


if __name__ == '__main__':
    main()
