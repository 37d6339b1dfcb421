"""`make gpu-check` fails loudly on a GPU that torch cannot use and passes,
checking nothing, on a machine without one."""
import os
import subprocess
import sys

from helpers import REPO

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
    return subprocess.run([sys.executable, 'tools/analysis_tools/gpu_check.py', '--work-dir',
                           str(tmp_path / 'work')], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


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
    cfg = Config.fromfile(os.path.join(REPO, 'configs/gpu_check/apc_vitb16_generated.py'))
    cfg.merge_from_dict({f'{k}.data_root': demo_data for k in (
        'train_dataloader.dataset', 'val_dataloader.dataset.val',
        'val_dataloader.dataset.train', 'test_dataloader.dataset')})
    train = DATASETS.build(cfg.train_dataloader.dataset)
    val = DATASETS.build(cfg.val_dataloader.dataset)
    test = DATASETS.build(cfg.test_dataloader.dataset)
    assert (len(train), len(val), len(test)) == (16, 4 + 16, 4)
    assert val[len(val) - 1]['data_samples'].metainfo['wsss_role'] == 'train'
    assert train.metainfo['classes'] == ('background', 'disc', 'square', 'triangle')
    assert cfg.model.decode_head.num_classes == cfg.model.weak_head.num_classes == 4
    assert cfg.param_scheduler[0].type == 'UnfreezeStepLR' and cfg.model.backbone.init_cfg is None
