#!/usr/bin/env python
"""One markdown table from several `tools/demo.py --seeds ...` work dirs (their
seeds_summary.json): a row per run, each figure as mean ± std (per seed).

    python tools/analysis_tools/demo_table.py work_dirs/recipe/demo/*
"""
import argparse

from apc_lab.demo import compare_runs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('work_dirs', nargs='+')
    parser.add_argument('--names', nargs='+', help='row names (default: the folder names)')
    args = parser.parse_args(argv)
    print(compare_runs(args.work_dirs, args.names))


if __name__ == '__main__':
    main()
