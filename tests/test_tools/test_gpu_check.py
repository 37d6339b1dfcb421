"""`make gpu-check` fails loudly on a GPU that torch cannot use and passes,
checking nothing, on a machine without one."""
import os
import sys

import pytest
from helpers import REPO, run_process

NVIDIA_SMI = '''#!/bin/sh
echo "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-00000000-0000-0000-0000-000000000000)"
'''


def gpu_check(tmp_path, with_driver):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    if with_driver:
        (bin_dir / 'nvidia-smi').write_text(NVIDIA_SMI)
        (bin_dir / 'nvidia-smi').chmod(0o755)
    # torch sees no GPU (as with a torch built for a newer CUDA than the driver)
    env = dict(os.environ, PATH=str(bin_dir), CUDA_VISIBLE_DEVICES='')
    return run_process([sys.executable, 'tools/analysis_tools/gpu_check.py', '--work-dir',
                        str(tmp_path / 'work')], env, timeout=300)


def test_a_gpu_torch_cannot_use_fails(tmp_path):
    proc = gpu_check(tmp_path, with_driver=True)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert 'nvidia-smi lists 1 GPU(s)' in proc.stderr and 'TORCH_CUDA=' in proc.stderr


def test_no_gpu_checks_nothing_and_passes(tmp_path):
    proc = gpu_check(tmp_path, with_driver=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert 'nothing was checked' in proc.stdout


def test_its_config_builds_every_dataset_on_generated_data(demo_data):
    """configs/gpu_check/apc_vitb16_generated.py with the data roots the tool
    sets: every dataset of the paper's config, WSSSValDataset's two parts
    included, reads the generated set."""
    from mmengine.config import Config
    from mmseg.registry import DATASETS

    from apc_mmseg.datasets import data_root_options
    cfg = Config.fromfile(os.path.join(REPO, 'configs/gpu_check/apc_vitb16_generated.py'))
    cfg.merge_from_dict(data_root_options(cfg, demo_data))
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    assert (len(train), len(val), len(test)) == (16, 4 + 16, 4)
    assert val[len(val) - 1]['data_samples'].metainfo['wsss_role'] == 'train'
    assert train.metainfo['classes'] == ('background', 'disc', 'square', 'triangle')
    assert cfg.model.decode_head.num_classes == cfg.model.weak_head.num_classes == 4
    assert cfg.param_scheduler[0].type == 'UnfreezeStepLR' and cfg.model.backbone.init_cfg is None


def load_gpu_check():
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'gpu_check', os.path.join(REPO, 'tools/analysis_tools/gpu_check.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_sh(cmd, log, nodes=1, calls=None):
    """Every step succeeds and leaves what the tool reads afterwards."""
    import json
    words = [str(w) for w in cmd]
    if calls is not None:
        calls.append((words, nodes))
    with open(log, 'w') as f:
        f.write('Resumed checkpoint\n' if '--resume' in words else 'ok\n')
    if '--resume' in words:
        work = words[words.index('--work-dir') + 1]
        open(os.path.join(work, 'iter_40.pth'), 'w').close()
    if 'tools/dist_test.sh' in words:
        out = words[words.index('--out') + 1]
        os.makedirs(out, exist_ok=True)
        for i in range(8):
            open(os.path.join(out, f'{i}.png'), 'w').close()
    if 'tools/analysis_tools/benchmark.py' in words:
        rates = dict(train_images_per_s=1.0, voc_15_epochs_minutes=1.0)
        with open(words[words.index('--out') + 1], 'w') as f:
            json.dump(dict(rates=rates, peak_memory_mb=1, train_dtype='bf16'), f)
    if '--work-dir' in words:
        os.makedirs(words[words.index('--work-dir') + 1], exist_ok=True)
    return True, 'rc 0'


@pytest.mark.parametrize('gpus', [1, 2])
def test_the_multi_rank_steps_run_two_ranks_on_one_gpu(tmp_path, monkeypatch, capsys, gpus):
    """On one GPU the multi-rank steps run 2 one-process nodes sharing it,
    over gloo, so the per-rank code runs with 2 ranks; the table says NCCL
    was not checked (and that alone fails nothing). On two GPUs: one node of
    2 processes, NCCL. (A simulated GPU; the steps themselves are
    stand-ins.)"""
    import functools

    import torch
    tool = load_gpu_check()
    calls = []
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    monkeypatch.setattr(torch.cuda, 'device_count', lambda: gpus)
    monkeypatch.setattr(torch.cuda, 'get_device_name', lambda i=0: 'NVIDIA H200')
    monkeypatch.setattr(tool, 'sh', functools.partial(fake_sh, calls=calls))
    monkeypatch.setattr(tool, 'read_loss_rows', lambda work: [])
    monkeypatch.setattr(tool, 'losses_verdict', lambda rows: (True, 'losses finite'))
    assert tool.main(['--work-dir', str(tmp_path / 'work')]) == 0
    table = capsys.readouterr().out.split('gpu-check on NVIDIA H200')[1]
    not_checked = [line for line in table.splitlines() if 'NOT CHECKED' in line]
    dist = [(words, nodes) for words, nodes in calls if words[1].startswith('tools/dist_')]
    assert len(dist) == 3  # train, resume, test
    gloo = 'env_cfg.dist_cfg.backend=gloo'
    if gpus == 1:
        assert [nodes for _, nodes in dist] == [2, 2, 2]
        assert all(gloo in words and words[3 if 'dist_train' in words[1] else 4] == '1'
                   for words, _ in dist)  # one process a node
        assert 'global_batch_size=8' in dist[0][0]  # 4 a rank
        assert len(not_checked) == 1 and 'NCCL between GPUs' in not_checked[0]
        assert 'dist_train.sh on 1 GPU x 2 processes (gloo)' in table
    else:
        assert all(nodes == 1 and gloo not in words for words, nodes in dist)
        assert 'global_batch_size=8' in dist[0][0]
        assert not_checked == [] and f'dist_train.sh on {gpus} GPU(s)' in table
    assert 'per-rank code on GPU' not in table and 'FAIL' not in table


def test_two_one_process_nodes_train_as_one_run_on_cpu(tmp_path, demo_data, monkeypatch):
    """The launch the one-GPU check uses, dry-run on the CPU: two copies of
    tools/dist_train.sh, one process each, make one run of world size 2 on
    this machine (each process LOCAL_RANK 0, as each needs on one GPU)."""
    from helpers import DEMO_CONFIG, cfg_options_argv, tiny_cfg_options, tool_env
    tool = load_gpu_check()
    for key, value in tool_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '')
    monkeypatch.setenv('PYTHON', sys.executable)
    work, log = tmp_path / 'work', str(tmp_path / 'dist_train.log')
    options = dict(tiny_cfg_options(demo_data, max_iters=2), **{
        'env_cfg.dist_cfg.backend': 'gloo', 'train_cfg.val_interval': 1000})
    ok, detail = tool.sh(['bash', 'tools/dist_train.sh', DEMO_CONFIG, '1', '--work-dir',
                          str(work)] + cfg_options_argv(options), log, nodes=2)
    text = open(log).read()
    assert ok, detail + text[-3000:]  # both nodes exited 0
    assert '2 images a step = 2 process(es) x 1' in text and (work / 'iter_2.pth').is_file()


def test_a_failing_node_stops_the_others(tmp_path):
    """Node 1 fails at once: node 0, which would wait for it, is stopped."""
    import time
    tool = load_gpu_check()
    cmd = ['bash', '-c', 'if [ "$NODE_RANK" = 1 ]; then exit 3; fi; sleep 300']
    start = time.monotonic()
    ok, detail = tool.sh(cmd, str(tmp_path / 'log'), nodes=2)
    assert not ok and 'rc 3' in detail and time.monotonic() - start < 30, detail
