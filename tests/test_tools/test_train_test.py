"""The mmseg-style tools end to end on CPU: 2-process training, testing,
inference APIs on the checkpoint it wrote."""
import glob
import os.path as osp
import re
import sys

import pytest
import torch
from helpers import (
    REPO,
    call_tool,
    cfg_options_argv,
    device_env,
    free_port,
    run,
    run_process,
    tool_env,
)

CONFIG = osp.join(REPO, 'configs/apc/apc_demo_cpu.py')


def test_dist_train_runs_two_processes_and_saves_a_checkpoint(trained):
    work_dir, ckpt, _ = trained
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    text = open(logs[0]).read()
    assert 'Distributed training: True' in text
    assert "dist_cfg: {'backend': 'gloo'}" in text
    state = torch.load(ckpt, map_location='cpu', weights_only=False)
    assert state['meta']['iter'] == 4
    assert any(k.startswith('weak_head.') for k in state['state_dict'])


def test_training_validation_logs_the_wsss_metrics_and_keeps_the_best(trained):
    """The demo config validates with IoUMetric and WSSSMetric (2 ranks here):
    the metrics reach the log and scalars.json, and save_best='pseudo_mIoU'
    keeps that checkpoint."""
    import json
    work_dir, _, _ = trained
    text = open(glob.glob(osp.join(work_dir, '*', '*.log'))[0]).read()
    assert 'pseudo_mIoU:' in text and 'cls_mAP:' in text and 'per-class WSSS results' in text
    scalars = [json.loads(line) for line in
               open(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))[0])]
    val = [row for row in scalars if 'pseudo_mIoU' in row]
    assert len(val) == 1 and {'mIoU', 'cls_mF1', 'cls_mAP'} <= set(val[0])
    assert osp.isfile(osp.join(work_dir, 'best_pseudo_mIoU_iter_4.pth'))


def test_tools_test_reports_miou(trained, tmp_path, device):
    _, ckpt, options = trained
    out_dir = str(tmp_path / 'preds')
    log = run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir', str(tmp_path),
               '--out', out_dir] + cfg_options_argv(options), device_env(device))
    match = re.search(r'mIoU: (\d+\.\d+)', log)
    assert match, log[-3000:]
    assert 0.0 <= float(match.group(1)) <= 100.0
    assert len(glob.glob(osp.join(out_dir, '*.png'))) == 4


def test_checkpoint_in_mmseg_inference_apis(trained, demo_data, tmp_path):
    from mmengine.config import Config
    from mmseg.apis import MMSegInferencer, inference_model, init_model
    _, ckpt, options = trained
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(options)
    model = init_model(cfg, ckpt, device='cpu')
    state = torch.load(ckpt, map_location='cpu', weights_only=False)['state_dict']
    torch.testing.assert_close(model.state_dict()['weak_head.classifier.weight'],
                               state['weak_head.classifier.weight'])
    img = osp.join(demo_data, 'JPEGImages', 'val_00016.jpg')
    result = inference_model(model, img)
    import mmcv
    h, w = mmcv.imread(img).shape[:2]
    assert result.pred_sem_seg.data.shape == (1, h, w)
    assert model.dataset_meta['classes'][1] == 'disc'

    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    inferencer = MMSegInferencer(model=cfg_path, weights=ckpt, device='cpu')
    out = inferencer(img, out_dir=str(tmp_path / 'vis'))
    assert out['predictions'].shape == (h, w)
    assert osp.isfile(tmp_path / 'vis' / 'vis' / 'val_00016.jpg')
    assert osp.isfile(tmp_path / 'vis' / 'pred' / '00000000_pred.png')


def test_ddp_ranks_hold_identical_weights_through_the_warm_up(tmp_path, demo_data):
    env = tool_env()
    env['CUDA_VISIBLE_DEVICES'] = ''
    script = osp.join(REPO, 'tests/test_tools/ddp_rank_weights.py')
    run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node=2',
         f'--master_port={free_port()}', script, CONFIG, str(tmp_path), demo_data], env)
    w0 = torch.load(tmp_path / 'rank0.pth', weights_only=True)
    w1 = torch.load(tmp_path / 'rank1.pth', weights_only=True)
    assert w0.keys() == w1.keys()
    different = [k for k in w0 if not torch.equal(w0[k], w1[k])]
    assert different == []


def test_resume_continues_from_the_last_checkpoint(trained, tmp_path):
    import shutil
    work_dir, _, options = trained
    resumed = str(tmp_path / 'resumed')
    shutil.copytree(work_dir, resumed)
    options = dict(options, **{'train_cfg.max_iters': 6, 'default_hooks.checkpoint.interval': 2})
    log = call_tool('tools/train.py', [CONFIG, '--work-dir', resumed, '--resume']
                    + cfg_options_argv(options))
    assert 'resumed epoch: 0, iter: 4' in log
    assert osp.isfile(osp.join(resumed, 'iter_6.pth'))
    assert not osp.isfile(osp.join(resumed, 'iter_2.pth'))  # it did not start again


@pytest.mark.parametrize('ranks', ['1', '2'])
def test_dist_test_with_out_show_dir_and_tta(trained, tmp_path, ranks):
    """Every rank writes its share of the masks and pictures into folders
    that did not exist (each rank creates them)."""
    _, ckpt, options = trained
    options = dict(options, **{'default_hooks.visualization.interval': 1})  # mmseg: 1 in 50
    env = tool_env()
    env.update(PORT=str(free_port()), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    out, show = tmp_path / 'new' / 'preds', tmp_path / 'new' / 'show'
    log = run(['bash', 'tools/dist_test.sh', CONFIG, ckpt, ranks, '--work-dir', str(tmp_path),
               '--out', str(out), '--show-dir', str(show), '--tta'] + cfg_options_argv(options),
              env)
    assert re.search(r'mIoU: \d+\.\d+', log), log[-2000:]
    assert len(glob.glob(str(out / '*.png'))) == 4
    assert len(glob.glob(str(show / '**' / '*.png'), recursive=True)) == 4


def test_test_refuses_a_checkpoint_of_another_class_count(trained, tmp_path, device):
    _, ckpt, options = trained
    options = dict(options, **{'model.decode_head.num_classes': 6,
                               'model.weak_head.num_classes': 6})
    proc = run_process([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir',
                        str(tmp_path)] + cfg_options_argv(options), device_env(device))
    assert proc.returncode != 0
    assert f'{ckpt}: its heads are for 4 classes, the config has 6' in proc.stderr, \
        proc.stderr[-2000:]

