"""The paper's pooling and patch-contrast ablations (its Tables 6 and 7) on the
generated sets: every variant of ``ABLATIONS`` trained with several seeds, on
the demo and the hard set, from the shipped pretrained ViT and from scratch,
each run a short ``run_demo`` (no pictures, one CRF unary); the results as
markdown tables with mean ± sample std and every seed's value.

A run is reused only when its ``summary.json`` holds the same settings
(iterations, variant, start, seed, sizes, the merged config and the
pretrained checkpoint: ``model_fingerprint``), the same numerics record, and
the sources it ran (every ``apc_mmseg`` / ``apc_lab`` module it had loaded)
unchanged in the tree; otherwise it is trained again, so a table never mixes
runs of two revisions of the code.
Command line: ``tools/demo.py --ablations``.
"""
import hashlib
import json
import os
import os.path as osp
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context

from mmengine.config import Config

from apc_mmseg.apis.pseudo_masks import file_sha256
from apc_mmseg.postprocessing import DEFAULT_UNARY

from .demo import FROM_SCRATCH, demo_fingerprint, run_demo, spread, spread_text
from .demo_data import ensure_generated
from .figures import REPO, file_digest, fingerprint, loaded_sources
from .numerics import fix_numerics
from .paired import confidence_for, difference_text, paired_difference


def _fixed_top_k(cfg: Config) -> dict:
    # K is the configured AKP's k_max (the paper's Table 6 compares at the same
    # K), read from the config so that editing k_max moves both.
    return {'model.weak_head.pooling': dict(
        _delete_=True, type='FixedKPooling', k=cfg.model.weak_head.pooling.k_max)}


# name -> config overrides (a dict, or a function of the config for overrides
# that depend on it); 'akp' is the method as configured (AKP + PCL).
ABLATIONS = {
    'akp': {},
    'max': {'model.weak_head.pooling': dict(_delete_=True, type='GlobalMaxPooling')},
    'mean': {'model.weak_head.pooling': dict(_delete_=True, type='GlobalAvgPooling')},
    'topk': _fixed_top_k,
    'akp_nopcl': {'model.pcl_loss': None},
    'max_nopcl': {'model.weak_head.pooling': dict(_delete_=True, type='GlobalMaxPooling'),
                  'model.pcl_loss': None},
}
DESCRIPTIONS = {
    'akp': 'AKP + PCL (the method)',
    'max': 'global max pooling + PCL',
    'mean': 'global average pooling + PCL',
    'topk': 'fixed top-K pooling (K = k_max) + PCL',
    'akp_nopcl': 'AKP, no PCL',
    'max_nopcl': 'global max pooling, no PCL',
}


def variant_options(config: str, variant: str, cfg_options: dict = None) -> dict:
    """The config overrides of ``variant`` on top of ``cfg_options`` (the
    user's, applied first, so a variant's override of the same part wins)."""
    overrides = ABLATIONS[variant]
    if callable(overrides):
        cfg = Config.fromfile(config)
        cfg.merge_from_dict(cfg_options or {})
        overrides = overrides(cfg)
    return dict(cfg_options or {}, **overrides)
# (summary key, column title): what each table shows.
COLUMNS = (('decode_crf', 'decode head + CRF, test'),
           ('decode', 'decode head, test'),
           ('pseudo', 'pseudo masks, test (no CRF)'),
           ('pseudo_crf', 'pseudo masks + CRF, test'),
           ('cls_mAP', 'classifier mAP, val'))


def _figures(summary: dict) -> dict:
    rows = {r['what']: r for r in summary['rows']}
    crf = [r for r in summary['rows'] if r['what'].startswith('patch scores + image labels + CRF')]
    split = summary['split']
    return dict(pseudo=rows['patch scores + image labels'][split], pseudo_crf=crf[0][split],
                decode=rows['decode head (no labels)'][split],
                decode_crf=rows['decode head + CRF (no labels)'][split],
                cls_mAP=summary['cls_mAP'], k_histogram=summary.get('k_histogram'))


def model_fingerprint(config: str, options: dict, from_scratch: bool) -> str:
    """SHA-256 of the run's merged config and of the checkpoint its ViT
    starts from: an edited config or a remade checkpoint is a new setting."""
    cfg = Config.fromfile(config)
    if from_scratch:
        cfg.merge_from_dict(FROM_SCRATCH)
    cfg.merge_from_dict(options)
    digest = hashlib.sha256(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode())
    checkpoint = (cfg.model.backbone.get('init_cfg') or {}).get('checkpoint')
    if checkpoint:
        digest.update(file_sha256(checkpoint).encode())
    return digest.hexdigest()


def reusable(summary: dict, settings: dict) -> bool:
    """Whether a finished run's ``summary`` stands for a run with ``settings``
    now: the same settings and numerics (``fix_numerics``, which this lab
    process runs at anyway), and sources that did not change since."""
    sources = summary.get('sources')
    return (summary.get('ablation_settings') == settings and bool(sources)
            and summary.get('numerics') == fix_numerics()
            and all(osp.isfile(osp.join(REPO, path)) and file_digest(osp.join(REPO, path)) == sha
                    for path, sha in sources.items()))


def train_or_reuse(config: str, data: str, work_dir: str, settings: dict) -> dict:
    """Train and evaluate one arm's seed unless ``work_dir`` holds a run
    with exactly ``settings``; returns its figures (``_figures``)."""
    path = osp.join(work_dir, 'summary.json')
    if osp.isfile(path):
        with open(path) as f:
            summary = json.load(f)
        if reusable(summary, settings):
            return _figures(summary)
    options = variant_options(config, settings['variant'], settings.get('cfg_options'))
    summary = run_demo(config, data, work_dir, iters=settings['iters'], seed=settings['seed'],
                       dataset=settings['dataset'], cfg_options=options,
                       from_scratch=settings['from_scratch'], num_train=settings['num_train'],
                       num_val=settings['num_val'], workers=1, unaries=(DEFAULT_UNARY, ),
                       pictures=False)
    summary['ablation_settings'] = settings
    summary['sources'] = loaded_sources()  # what the run executed
    os.makedirs(work_dir, exist_ok=True)
    with open(path, 'w') as f:
        json.dump(summary, f, indent=2)
    return _figures(summary)


def run_ablations(datasets: dict, work_dir: str = 'work_dirs/ablations', seeds=(0, 1, 2),
                  iters: int = 1000, starts=('pretrained', 'scratch'), variants=None,
                  num_train: int = 200, num_val: int = 50, jobs: int = 1,
                  cfg_options: dict = None) -> dict:
    """Every (start, dataset, variant, seed) run, ``jobs`` at a time (each at
    one torch thread, as every run), ``cfg_options`` on top of each
    variant's overrides (part of the runs' settings), into
    ``<work_dir>/<start>/<dataset>/<variant>/seed_<s>``. ``datasets`` maps a set's
    name ('demo', 'hard') to its (config, data folder). Returns (and writes to
    ``<work_dir>/ablations.json``) each arm's per-seed figures, mean and
    sample std."""
    variants = list(variants or ABLATIONS)
    unknown = sorted(set(variants) - set(ABLATIONS))
    if unknown:
        raise ValueError(f'unknown ablation(s) {unknown}: choose from {sorted(ABLATIONS)}')
    arms = [(start, dataset, variant)
             for start in starts for dataset in datasets for variant in variants]
    for dataset, (_, data) in datasets.items():  # once, before runs could race to make it
        ensure_generated(data, num_train, num_val, seed=0, dataset=dataset)
    runs = []
    for start, dataset, variant in arms:
        config, data = datasets[dataset]
        for seed in seeds:
            settings = dict(start=start, dataset=dataset, variant=variant, seed=seed, iters=iters,
                            from_scratch=start == 'scratch', num_train=num_train,
                            num_val=num_val, config=osp.basename(config))
            if cfg_options:  # as JSON gives it back (tuples as lists)
                settings['cfg_options'] = json.loads(json.dumps(cfg_options))
            settings['fingerprint'] = model_fingerprint(
                config, variant_options(config, variant, cfg_options), start == 'scratch')
            runs.append((config, data, osp.join(work_dir, start, dataset, variant, f'seed_{seed}'),
                         settings))
    if jobs > 1:
        # each run computes at FIGURE_THREADS (one) torch thread: jobs share the cores
        with ProcessPoolExecutor(jobs, mp_context=get_context('spawn')) as pool:
            figures = list(pool.map(train_or_reuse, *zip(*runs)))
    else:
        figures = [train_or_reuse(*run) for run in runs]
    result = dict(seeds=list(seeds), iters=iters,
                  cfg_options=json.loads(json.dumps(cfg_options or {})), arms=[])
    per_arm = len(seeds)
    for i, (start, dataset, variant) in enumerate(arms):
        per_seed = figures[i * per_arm:(i + 1) * per_arm]
        arm = dict(start=start, dataset=dataset, variant=variant)
        for key, _ in COLUMNS:
            arm[key] = spread([f[key] for f in per_seed])
        histograms = [f['k_histogram'] for f in per_seed if f.get('k_histogram')]
        if histograms:  # AKP's K over training, all seeds together
            arm['k_histogram'] = dict(k_max=histograms[0]['k_max'], counts=[
                sum(h['counts'][k] for h in histograms)
                for k in range(histograms[0]['k_max'])])
        result['arms'].append(arm)
    os.makedirs(work_dir, exist_ok=True)
    with open(osp.join(work_dir, 'ablations.json'), 'w') as f:
        json.dump(result, f, indent=2)
    return result


def ablation_tables(result: dict) -> str:
    """Markdown: one table per (start, dataset), a row per variant, each figure
    as mean ± std (per seed); then AKP + PCL minus each other variant, paired
    over seeds, with its t-interval, Bonferroni-widened over the table's
    comparisons, and the verdict (``apc_lab.paired``)."""
    out = []
    groups = {}
    for arm in result['arms']:
        groups.setdefault((arm['start'], arm['dataset']), []).append(arm)
    for (start, dataset), arms in groups.items():
        options = ''.join(f', {k}={v}' for k, v in result.get('cfg_options', {}).items())
        begin = "the config's pretrained backbone" if start == 'pretrained' else 'from scratch'
        out += [f"### {dataset} set, {begin}"
                f" ({result['iters']} iterations, seeds {' '.join(map(str, result['seeds']))}"
                f'{options})',
                '', '| variant | ' + ' | '.join(t for _, t in COLUMNS) + ' |',
                '|---|' + '---|' * len(COLUMNS)]
        for arm in arms:
            out.append(f"| {DESCRIPTIONS[arm['variant']]} | "
                       + ' | '.join(spread_text(arm[k]) for k, _ in COLUMNS) + ' |')
        ours = next((c for c in arms if c['variant'] == 'akp'), None)
        if ours:
            others = [c for c in arms if c is not ours]
            confidence = confidence_for(len(others) * len(COLUMNS))
            out += ['', f'| AKP + PCL minus (paired, n = {len(result["seeds"])}, '
                    f'{100 * confidence:.4g} % intervals: Bonferroni over '
                    f'{len(others) * len(COLUMNS)}) | '
                    + ' | '.join(t for _, t in COLUMNS) + ' |',
                    '|---|' + '---|' * len(COLUMNS)]
            out += [f"| {DESCRIPTIONS[c['variant']]} | " + ' | '.join(
                difference_text(paired_difference(ours[k]['values'], c[k]['values'],
                                                  confidence)) for k, _ in COLUMNS) + ' |'
                for c in others]
        out.append('')
    return '\n'.join(out)


# The pre-registered claims (docs/ablations.md): (name, arm a, arm b, the
# paper's finding for a - b).
CLAIMS = (('AKP - global max pooling, both with PCL (Table 6)', 'akp', 'max', 'AKP higher'),
          ('PCL on - off, both with AKP (Table 7)', 'akp', 'akp_nopcl', '+2.0'))
PRIMARY_COMPARISONS = 4  # 2 claims x 2 sets, fixed by the pre-registration


def claims_table(result: dict, comparisons: int = PRIMARY_COMPARISONS) -> str:
    """Markdown: each claim's paired difference on each set, the primary
    outcome (decode head + CRF) first, intervals Bonferroni-widened over the
    pre-registered ``comparisons``; then AKP's K over training."""
    confidence = confidence_for(comparisons)
    arms = {(a['dataset'], a['variant']): a for a in result['arms']}
    datasets = list(dict.fromkeys(a['dataset'] for a in result['arms']))
    lines = [f"Paired over seeds {' '.join(map(str, result['seeds']))} (n = "
             f"{len(result['seeds'])}), {result['iters']} iterations; mean difference "
             f'[{100 * confidence:.4g} % t-interval: Bonferroni over {comparisons} primary '
             'comparisons] and verdict, mIoU points on the test split.', '',
             '| set | claim | paper | ' + ' | '.join(t for _, t in COLUMNS[:4]) + ' |',
             '|---|---|---|' + '---|' * 4]
    for dataset in datasets:
        for name, a, b, paper in CLAIMS:
            if (dataset, a) in arms and (dataset, b) in arms:
                cells = [difference_text(paired_difference(
                    arms[dataset, a][k]['values'], arms[dataset, b][k]['values'], confidence))
                    for k, _ in COLUMNS[:4]]
                lines.append(f'| {dataset} | {name} | {paper} | ' + ' | '.join(cells) + ' |')
    lines += ['', '| set | arm | K chosen by AKP over training (tagged classes), % of '
              'K = 1 .. k_max |', '|---|---|---|']
    for (dataset, variant), arm in arms.items():
        hist = arm.get('k_histogram')
        if hist and sum(hist['counts']):
            total = sum(hist['counts'])
            lines.append(f"| {dataset} | {DESCRIPTIONS[variant]} | "
                         + ' '.join(f'{100 * c / total:.1f}' for c in hist['counts']) + ' |')
    return '\n'.join(lines)


def ablation_fingerprint(datasets: dict, iters: int, num_train: int = 200, num_val: int = 50,
                         num_test: int = 100, cfg_options: dict = None) -> dict:
    """``apc_lab.figures.fingerprint`` of an ablation over ``datasets`` (name
    -> (config, data)): each config with the runs' shared options, each
    backbone checkpoint, each generated set, the loaded sources."""
    configs, checkpoints, records = {}, [], []
    for name, (config, _) in datasets.items():
        parts = demo_fingerprint(config, '', [], dataset=name, iters=iters,
                                 cfg_options=cfg_options, num_train=num_train,
                                 num_val=num_val, num_test=num_test)
        configs.update({k: v['options'] for k, v in parts['configs'].items()})
        checkpoints += list(parts['checkpoints'])
        records += parts['datasets']
    return fingerprint(configs, checkpoints, records)
