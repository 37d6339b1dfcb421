"""One config setting measured against another in the ablation's design.

The same variants, seeds and schedule are trained (or reused: the ablation's
rule) under ``config`` in ``work_dir`` and under ``against`` in
``against_work_dir``; each arm's figures under ``config`` minus those under
``against``, seed by seed, with a t-interval (``apc_lab.paired``). This is
how a setting the paper leaves open (the patch contrast's low set, say) is
measured against the configs' default while reusing the runs the
pre-registered design already made. Command line: ``tools/demo.py
--ablations --config B --against A WORK_DIR``.
"""
import json
import os.path as osp

from .ablation import COLUMNS, DESCRIPTIONS, ablation_fingerprint, run_ablations
from .demo import spread_text
from .figures import fingerprint
from .paired import confidence_for, difference_text, paired_difference


def compare_configs(dataset: str, data: str, config: str, against: str, work_dir: str,
                    against_work_dir: str, **run) -> dict:
    """``run_ablations`` of ``dataset`` under both configs (``run``: its
    seeds, iters, variants, starts, sizes, jobs, cfg_options); returns (and
    writes to ``<work_dir>/comparison.json``) the seeds, iterations, both
    configs and ``pairs``: each arm under ``config`` beside the same arm
    under ``against``. Each work dir's ``ablations.json`` is then that of
    these arms (``run_ablations`` writes it)."""
    if osp.realpath(config) == osp.realpath(against):
        raise ValueError(f'--against {against}: the same config as --config; nothing to compare')
    ours = run_ablations({dataset: (config, data)}, work_dir, **run)
    theirs = run_ablations({dataset: (against, data)}, against_work_dir, **run)
    result = dict(seeds=ours['seeds'], iters=ours['iters'], config=osp.basename(config),
                  against=osp.basename(against), pairs=list(zip(ours['arms'], theirs['arms'])))
    with open(osp.join(work_dir, 'comparison.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result


def comparison_table(result: dict, comparisons: int = 1) -> str:
    """Markdown: per arm, the paired difference of every figure (intervals
    Bonferroni-widened over ``comparisons``), then each side's figures."""
    confidence = confidence_for(comparisons)
    widened = f': Bonferroni over {comparisons} comparisons' if comparisons > 1 else ''
    columns = ' | '.join(title for _, title in COLUMNS)
    seeds = ' '.join(map(str, result['seeds']))
    lines = [f"`{result['config']}` minus `{result['against']}`, paired over seeds {seeds} "
             f"(n = {len(result['seeds'])}), {result['iters']} iterations; mean difference "
             f'[{100 * confidence:.4g} % t-interval{widened}] and verdict, in points of each '
             "column's measure.", '',
             f'| set | arm | {columns} |', '|---|---|' + '---|' * len(COLUMNS)]
    for ours, theirs in result['pairs']:
        cells = [difference_text(paired_difference(ours[k]['values'], theirs[k]['values'],
                                                   confidence)) for k, _ in COLUMNS]
        lines.append(f"| {ours['dataset']} | {DESCRIPTIONS[ours['variant']]} | "
                     + ' | '.join(cells) + ' |')
    lines += ['', f'| arm | config | {columns} |', '|---|---|' + '---|' * len(COLUMNS)]
    for pair in result['pairs']:
        for arm, name in zip(pair, (result['config'], result['against'])):
            lines.append(f"| {DESCRIPTIONS[arm['variant']]} | `{name}` | "
                         + ' | '.join(spread_text(arm[k]) for k, _ in COLUMNS) + ' |')
    return '\n'.join(lines)


def comparison_fingerprint(dataset: str, data: str, configs, iters: int, num_train: int = 200,
                           num_val: int = 50, num_test: int = 100,
                           cfg_options: dict = None) -> dict:
    """``apc_lab.figures.fingerprint`` of a comparison: both configs with the
    runs' shared options, their checkpoints, the generated set, the sources."""
    parts = [ablation_fingerprint({dataset: (config, data)}, iters, num_train, num_val, num_test,
                                  cfg_options) for config in configs]
    configs = {path: entry['options'] for p in parts for path, entry in p['configs'].items()}
    checkpoints = list(dict.fromkeys(path for p in parts for path in p['checkpoints']))
    return fingerprint(configs, checkpoints, parts[0]['datasets'])
