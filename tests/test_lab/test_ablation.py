"""The ablation runner: each variant builds the model it names, runs are reused
only with the same settings, the tables' figures and verdicts."""
import json
import os.path as osp
import subprocess
import sys

import pytest
from helpers import DEMO_CONFIG, REPO, load_tool
from mmengine.config import Config
from mmseg.registry import MODELS

from apc_lab import ablation

POOLING = dict(akp='AdaptiveKPooling', max='GlobalMaxPooling', mean='GlobalAvgPooling',
               topk='FixedKPooling', akp_nopcl='AdaptiveKPooling', max_nopcl='GlobalMaxPooling')


@pytest.mark.parametrize('variant', list(ablation.ABLATIONS))
def test_each_variant_builds_the_model_it_names(variant):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(ablation.variant_options(DEMO_CONFIG, variant))
    model = MODELS.build(cfg.model)
    assert type(model.weak_head.pooling).__name__ == POOLING[variant]
    assert (model.pcl_loss is None) == variant.endswith('_nopcl')
    if variant == 'topk':
        assert model.weak_head.pooling.k_max == 6  # the configured AKP's k_max


def test_the_lab_top_k_follows_the_configured_k_max():
    options = ablation.variant_options(DEMO_CONFIG, 'topk', {'model.weak_head.pooling.k_max': 3})
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(options)
    assert cfg.model.weak_head.pooling == dict(type='FixedKPooling', k=3)


def test_the_top_k_config_follows_its_base_k_max(tmp_path):
    voc = osp.join(REPO, 'configs/apc/apc_vitb16_voc.py')
    topk = osp.join(REPO, 'configs/apc/apc_vitb16_voc_topk.py')
    assert Config.fromfile(topk).model.weak_head.pooling == dict(type='FixedKPooling', k=6)
    edited = tmp_path / 'voc_k3.py'
    edited.write_text(f"_base_ = '{voc}'\nmodel = dict(weak_head=dict(pooling=dict(k_max=3)))\n")
    derived = tmp_path / 'topk_k3.py'
    derived.write_text(open(topk).read().replace("'./apc_vitb16_voc.py'", f"'{edited}'"))
    assert Config.fromfile(str(derived)).model.weak_head.pooling == dict(
        type='FixedKPooling', k=3)


def test_the_fingerprint_follows_the_config_and_the_checkpoint(tmp_path):
    shipped = Config.fromfile(DEMO_CONFIG).model.backbone.init_cfg.checkpoint
    checkpoint = tmp_path / 'vit.pth'
    checkpoint.write_bytes(open(shipped, 'rb').read())
    config = tmp_path / 'demo.py'
    config.write_text(f"_base_ = '{DEMO_CONFIG}'\n"
                      f"model = dict(backbone=dict(init_cfg=dict(checkpoint='{checkpoint}')))\n")
    first = ablation.model_fingerprint(str(config), {}, False)
    assert ablation.model_fingerprint(str(config), {}, False) == first
    assert ablation.model_fingerprint(str(config), {}, True) != first  # from scratch
    assert ablation.model_fingerprint(str(config), ablation.ABLATIONS['max'], False) != first
    with open(checkpoint, 'ab') as f:  # a remade checkpoint
        f.write(b'\0')
    assert ablation.model_fingerprint(str(config), {}, False) != first


NUMERICS = dict(threads=1, onednn=False)


def fake_summary(seed, variant, start):
    """Figures that tell the runs apart: pseudo = seed + 10 * variant index."""
    value = seed + 10 * list(ablation.ABLATIONS).index(variant) + (50 if start == 'scratch'
                                                                   else 0)
    return dict(cls_mAP=value + 3, split='test', numerics=NUMERICS, rows=[
        dict(what='decode head (no labels)', test=value + 2),
        dict(what='decode head + CRF (no labels)', test=value + 4),
        dict(what='patch scores + image labels', test=value),
        dict(what='patch scores + image labels + CRF (softmax)', test=value + 1)])


def test_runs_are_reused_only_with_the_same_settings(tmp_path, monkeypatch):
    calls = []

    def fake_run_demo(config, data, work_dir, iters, seed, dataset, cfg_options, from_scratch,
                      **kwargs):
        calls.append((work_dir, iters, seed, cfg_options, from_scratch))
        variant, start = work_dir.split('/')[-2], work_dir.split('/')[-4]
        return fake_summary(seed, variant, start)

    monkeypatch.setattr(ablation, 'run_demo', fake_run_demo)
    # the lab's numerics, without turning oneDNN off in the test process
    monkeypatch.setattr(ablation, 'fix_numerics', lambda: NUMERICS)
    made = []
    monkeypatch.setattr(ablation, 'ensure_generated', lambda data, *a, **k: made.append(data))
    data = tmp_path / 'data'
    datasets = dict(demo=(DEMO_CONFIG, str(data)))
    work = str(tmp_path / 'abl')
    run = dict(seeds=(0, 1, 2), iters=5, variants=['akp', 'max', 'akp_nopcl'])

    result = ablation.run_ablations(datasets, work, **run)
    assert made == [str(data)]  # once, before the runs
    assert len(calls) == 2 * 3 * 3  # starts x variants x seeds
    assert (osp.join(work, 'scratch', 'demo', 'max', 'seed_2'), 5, 2,
            ablation.variant_options(DEMO_CONFIG, 'max'), True) in calls
    arm = next(c for c in result['arms'] if (c['start'], c['variant']) == ('scratch', 'max'))
    assert arm['pseudo']['values'] == [60, 61, 62]
    assert arm['pseudo']['mean'] == pytest.approx(61.0)
    assert arm['pseudo']['std'] == pytest.approx(1.0)  # sample std of 60, 61, 62
    assert arm['pseudo_crf']['values'] == [61, 62, 63]
    assert arm['decode']['values'] == [62, 63, 64] and arm['cls_mAP']['values'] == [63, 64, 65]
    assert arm['decode_crf']['values'] == [64, 65, 66]
    assert json.load(open(osp.join(work, 'ablations.json'))) == result

    calls.clear()
    assert ablation.run_ablations(datasets, work, **run) == result and calls == []
    # a run is redone when its numerics, or a source it ran, differ from now
    one = osp.join(work, 'pretrained', 'demo', 'max', 'seed_1', 'summary.json')
    other = osp.join(work, 'scratch', 'demo', 'akp', 'seed_0', 'summary.json')
    summary = json.load(open(one))
    assert 'apc_lab/ablation.py' in summary['sources']
    summary['sources']['apc_lab/ablation.py'] = '0' * 64
    json.dump(summary, open(one, 'w'))
    summary = json.load(open(other))
    json.dump(dict(summary, numerics=dict(NUMERICS, onednn=True)), open(other, 'w'))
    assert ablation.run_ablations(datasets, work, **run) == result
    assert sorted(c[0] for c in calls) == sorted(osp.dirname(p) for p in (one, other))
    calls.clear()
    summary = json.load(open(one))
    del summary['sources']  # made before sources were recorded
    json.dump(summary, open(one, 'w'))
    ablation.run_ablations(datasets, work, **run)
    assert [c[0] for c in calls] == [osp.dirname(one)]
    calls.clear()
    run['iters'] = 6  # changed settings: every run again
    ablation.run_ablations(datasets, work, **run)
    assert len(calls) == 18 and {c[1] for c in calls} == {6}
    calls.clear()  # options on top of each variant's, and part of the settings
    ablation.run_ablations(datasets, work, **dict(run, variants=['akp_nopcl'], starts=['scratch'],
                                                cfg_options={'train_cfg.val_interval': 3}))
    assert [c[3] for c in calls] == [{'model.pcl_loss': None, 'train_cfg.val_interval': 3}] * 3
    assert '### demo set, from scratch (6 iterations, seeds 0 1 2, train_cfg.val_interval=3)' \
        in ablation.ablation_tables(json.load(open(osp.join(work, 'ablations.json'))))

    table = ablation.ablation_tables(result)
    assert '### demo set, from scratch (5 iterations, seeds 0 1 2)' in table
    assert ('| global max pooling + PCL | 65.0 ± 1.0 (64.0 65.0 66.0) | '
            '63.0 ± 1.0 (62.0 63.0 64.0) |') in table
    # AKP minus max: -10 on every seed, an interval of no width; 2 comparisons
    # x 5 columns
    assert 'paired, n = 3, 99.5 % intervals: Bonferroni over 10' in table
    assert ('| global max pooling + PCL | -10.0 [-10.0, -10.0] lower | '
            '-10.0 [-10.0, -10.0] lower |') in table
    with pytest.raises(ValueError, match='unknown ablation'):
        ablation.run_ablations(datasets, work, variants=['avg'])


def test_the_tool_passes_its_options(tmp_path, monkeypatch):
    tool = load_tool('tools/demo.py')
    seen = {}

    def fake(datasets, work_dir, **kwargs):
        seen.update(datasets=datasets, work_dir=work_dir, **kwargs)
        return dict(seeds=[0, 1, 2], iters=1000, arms=[])

    monkeypatch.setattr(ablation, 'run_ablations', fake)  # the tool imports it at call time
    tool.main(['--ablations', '--jobs', '2', '--work-dir', str(tmp_path)])
    assert set(seen['datasets']) == {'photo', 'demo', 'hard'} and seen['jobs'] == 2
    assert seen['seeds'] == [0, 1, 2] and seen['iters'] == 1000
    assert seen['starts'] == ['pretrained', 'scratch']
    assert (tmp_path / 'ablations.md').is_file()
    tool.main(['--ablations', '--dataset', 'hard', '--from-scratch', '--seeds', '4', '--iters', '7',
               '--variants', 'max', '--work-dir', str(tmp_path)])
    assert list(seen['datasets']) == ['hard'] and seen['starts'] == ['scratch']
    assert seen['seeds'] == [4] and seen['iters'] == 7 and seen['variants'] == ['max']
    tool.main(['--ablations', '--variants', 'akp', '--work-dir', str(tmp_path), '--starts',
               'pretrained', '--cfg-options', 'model.weak_head.pooling.k_max=2'])
    assert seen['cfg_options'] == {'model.weak_head.pooling.k_max': 2}
    assert seen['starts'] == ['pretrained']
    with pytest.raises(SystemExit, match='name the set with --dataset'):
        tool.main(['--ablations', '--data', str(tmp_path)])
    with pytest.raises(SystemExit, match=r"--variants: unknown \['avg'\]"):
        tool.main(['--ablations', '--variants', 'max', 'avg', '--work-dir', str(tmp_path)])


def test_a_demo_run_loads_no_ablation_code():
    """The demo's figure block lists the sources its process loaded: the
    ablation's are not among them, so changing them leaves it standing."""
    code = ('import importlib.util, sys; '
            "spec = importlib.util.spec_from_file_location('demo_tool', 'tools/demo.py'); "
            'spec.loader.exec_module(importlib.util.module_from_spec(spec)); '
            "print(sorted(m for m in sys.modules if m in ('apc_lab.ablation', "
            "'apc_lab.config_comparison', 'apc_lab.demo')))")
    out = subprocess.run([sys.executable, '-c', code], cwd=REPO, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == "['apc_lab.demo']"


def test_the_claims_table_pairs_the_preregistered_arms():
    def arm(variant, decode_crf, hist=None):
        figures = {key: ablation.spread([0.0, 0.0, 0.0]) for key, _ in ablation.COLUMNS}
        figures['decode_crf'] = ablation.spread(decode_crf)
        out = dict(start='pretrained', dataset='photo', variant=variant, **figures)
        if hist:
            out['k_histogram'] = dict(k_max=3, counts=hist)
        return out

    result = dict(seeds=[100, 101, 102], iters=1000, arms=[
        arm('akp', [10, 12, 14], [1, 1, 2]), arm('max', [9, 9, 9]),
        arm('akp_nopcl', [10, 12, 14])])
    table = ablation.claims_table(result)
    # AKP - max: d = 1, 3, 5: mean 3, sd 2; at 98.75 % with 2 df the t quantile
    # has a closed form, (2p - 1) sqrt(2 / (1 - (2p - 1)^2)) = 8.8601 for
    # p = 0.99375: half width 8.8601 * 2 / sqrt(3) = 10.23
    assert '98.75 % t-interval: Bonferroni over 4 primary comparisons' in table
    assert ('| photo | AKP - global max pooling, both with PCL (Table 6) | AKP higher | '
            '+3.0 [-7.2, +13.2] not shown |') in table
    # PCL on - off: identical runs, a difference of 0 with no spread
    assert ('| photo | PCL on - off, both with AKP (Table 7) | +2.0 | '
            '+0.0 [+0.0, +0.0] not shown |') in table
    assert '| photo | AKP + PCL (the method) | 25.0 25.0 50.0 |' in table
