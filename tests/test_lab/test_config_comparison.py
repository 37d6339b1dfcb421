"""A config setting against another: both sides' runs trained or reused in
their own work dirs, differences paired by seed, the table's intervals, the
fingerprint naming both configs, the tool's flags."""
import json
import os.path as osp

import pytest
from helpers import DEMO_CONFIG, REPO, load_tool

from apc_lab import ablation, config_comparison

# decode head + CRF per seed 0, 1, 2 under each config: d = 1, 3, 5 (mean 3,
# sample sd 2); every other figure the same on both sides (d = 0).
NUMERICS = dict(threads=1, onednn=False)
DECODE_CRF = {'lowest.py': [10, 12, 14], 'apc_demo_cpu.py': [9, 9, 9]}


def fake_run_demo(config, data, work_dir, iters, seed, **kwargs):
    value = 50 + seed
    return dict(cls_mAP=value, split='test', numerics=NUMERICS, rows=[
        dict(what='decode head (no labels)', test=value),
        dict(what='decode head + CRF (no labels)', test=DECODE_CRF[osp.basename(config)][seed]),
        dict(what='patch scores + image labels', test=value),
        dict(what='patch scores + image labels + CRF (softmax)', test=value)])


@pytest.fixture
def lowest_config(tmp_path):
    path = tmp_path / 'lowest.py'
    path.write_text(f"_base_ = '{DEMO_CONFIG}'\nmodel = dict(pcl_loss=dict(n_low=1))\n")
    return str(path)


def test_each_side_is_run_in_its_own_dir_and_paired_by_seed(tmp_path, monkeypatch,
                                                            lowest_config):
    trained = []

    def run_demo(config, data, work_dir, **kwargs):
        trained.append((osp.basename(config), work_dir))
        return fake_run_demo(config, data, work_dir, **kwargs)

    monkeypatch.setattr(ablation, 'run_demo', run_demo)
    monkeypatch.setattr(ablation, 'fix_numerics', lambda: NUMERICS)
    monkeypatch.setattr(ablation, 'ensure_generated', lambda *a, **k: None)
    ours, theirs = str(tmp_path / 'ours'), str(tmp_path / 'theirs')
    run = dict(seeds=[0, 1, 2], iters=5, variants=['akp'], starts=['pretrained'])
    result = config_comparison.compare_configs('demo', str(tmp_path / 'data'), lowest_config,
                                               DEMO_CONFIG, ours, theirs, **run)
    assert sorted(trained) == sorted(
        [('lowest.py', osp.join(ours, 'pretrained', 'demo', 'akp', f'seed_{s}')) for s in range(3)]
        + [('apc_demo_cpu.py', osp.join(theirs, 'pretrained', 'demo', 'akp', f'seed_{s}'))
           for s in range(3)])
    assert json.load(open(osp.join(ours, 'comparison.json'))) == json.loads(json.dumps(result))
    (a, b), = result['pairs']
    assert a['decode_crf']['values'] == [10, 12, 14] and b['decode_crf']['values'] == [9, 9, 9]

    trained.clear()  # the other side's finished runs are reused
    config_comparison.compare_configs('demo', str(tmp_path / 'data'), lowest_config, DEMO_CONFIG,
                                      str(tmp_path / 'ours2'), theirs, **run)
    assert {c for c, _ in trained} == {'lowest.py'}

    # d = 1, 3, 5: mean 3, sd 2, 2 df. The t quantile with 2 df has a closed
    # form, a sqrt(2 / (1 - a^2)) with a = 2p - 1: p = 0.975 gives 4.3027
    # (half width 4.3027 * 2 / sqrt(3) = 4.968); p = 0.9875 (two comparisons,
    # 97.5 %) gives 6.2053 (half width 7.165).
    table = config_comparison.comparison_table(result)
    assert '`lowest.py` minus `apc_demo_cpu.py`, paired over seeds 0 1 2 (n = 3)' in table
    assert '[95 % t-interval] and verdict' in table
    assert '| demo | AKP + PCL (the method) | +3.0 [-2.0, +8.0] not shown | +0.0 [+0.0, +0.0]' \
        in table
    wide = config_comparison.comparison_table(result, comparisons=2)
    assert '[97.5 % t-interval: Bonferroni over 2 comparisons]' in wide
    assert '| +3.0 [-4.2, +10.2] not shown |' in wide
    assert '| AKP + PCL (the method) | `apc_demo_cpu.py` | 9.0 ± 0.0 (9.0 9.0 9.0) |' in table

    with pytest.raises(ValueError, match='the same config'):
        config_comparison.compare_configs('demo', 'data', DEMO_CONFIG, DEMO_CONFIG, ours, theirs,
                                          **run)


def test_the_fingerprint_names_both_configs_and_one_checkpoint(lowest_config):
    parts = config_comparison.comparison_fingerprint('demo', 'data/demo',
                                                     (lowest_config, DEMO_CONFIG), 5)
    assert set(parts['configs']) == {osp.relpath(lowest_config, REPO),
                                     'configs/apc/apc_demo_cpu.py'}
    assert len(parts['checkpoints']) == 1  # both start from the demo ViT
    assert [d['dataset'] for d in parts['datasets']] == ['demo']


def test_the_tool_compares_only_a_named_set_and_config(tmp_path, monkeypatch, lowest_config):
    tool = load_tool('tools/demo.py')
    seen = {}

    def fake(dataset, data, config, against, work_dir, against_work_dir, **run):
        seen.update(dataset=dataset, config=config, against=against, work_dir=work_dir,
                    against_work_dir=against_work_dir, **run)
        return dict(seeds=[0, 1], iters=5, config='lowest.py', against='apc_demo_cpu.py',
                    pairs=[])

    monkeypatch.setattr(config_comparison, 'compare_configs', fake)  # imported at call time
    work = tmp_path / 'ours'
    work.mkdir()
    tool.main(['--ablations', '--dataset', 'demo', '--config', lowest_config, '--against',
               DEMO_CONFIG, str(tmp_path / 'theirs'), '--seeds', '0', '1', '--variants', 'akp',
               '--comparisons', '2', '--work-dir', str(work)])
    assert (seen['config'], seen['against']) == (lowest_config, DEMO_CONFIG)
    assert seen['against_work_dir'] == str(tmp_path / 'theirs') and seen['seeds'] == [0, 1]
    assert '97.5 % t-interval' in (work / 'comparison.md').read_text()
    with pytest.raises(SystemExit, match='name the set with --dataset'):
        tool.main(['--ablations', '--against', DEMO_CONFIG, str(work)])
    with pytest.raises(SystemExit, match='give the config'):
        tool.main(['--ablations', '--dataset', 'demo', '--against', DEMO_CONFIG, str(work)])
