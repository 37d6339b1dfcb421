"""Pseudo masks (apc_mmseg.apis and tools/make_pseudo_masks.py), stage-2 reading
of their output, tools/infer.py, the demo."""
import copy
import glob
import json
import os
import os.path as osp
import re
import sys

import numpy as np
import pytest
import torch
from helpers import DEMO_CONFIG, call_tool, free_port, run, tool_env
from mmengine.config import Config
from PIL import Image

from apc_mmseg.apis import make_pseudo_masks


@pytest.fixture(scope='module')
def cfg(trained):
    cfg = Config.fromfile(DEMO_CONFIG)
    cfg.merge_from_dict(trained[2])
    return cfg


@pytest.fixture(scope='module')
def masks(cfg, trained, tmp_path_factory):
    out = str(tmp_path_factory.mktemp('pseudo'))
    res = make_pseudo_masks(cfg, trained[1], out, mask_dir='SegmentationClass',
                            progress=False)
    return out, res


def test_writes_palette_pngs_restricted_to_the_image_labels(masks, demo_data):
    out, res = masks
    labels = json.load(open(osp.join(demo_data, 'cls_labels.json')))
    classes = ('background', 'disc', 'square', 'triangle')
    ids = open(osp.join(demo_data, 'ImageSets/Segmentation/train.txt')).read().split()
    assert sorted(f[:-4] for f in os.listdir(out) if f.endswith('.png')) == sorted(ids)
    for img_id in ids:
        png = Image.open(osp.join(out, img_id + '.png'))
        assert png.mode == 'P'
        assert png.getpalette()[3:6] == [128, 0, 0]  # class 1's colour
        allowed = {0} | {classes.index(n) for n in labels[img_id]}
        assert set(np.unique(np.array(png)).tolist()) <= allowed
        src = Image.open(osp.join(demo_data, 'JPEGImages', img_id + '.jpg'))
        assert png.size == src.size
    assert 0 <= res['miou'] <= 100 and res['images'] == len(ids)


def test_second_run_with_the_same_settings_reuses_the_masks(masks, cfg, trained):
    out, res = masks
    before = {f: os.stat(osp.join(out, f)).st_mtime_ns for f in os.listdir(out)}
    again = make_pseudo_masks(cfg, trained[1], out, mask_dir='SegmentationClass',
                              progress=False)
    assert {f: os.stat(osp.join(out, f)).st_mtime_ns for f in os.listdir(out)} == before
    assert again['miou'] == pytest.approx(res['miou'])
    assert again['reused'] == res['images'] and again['written'] == 0


def test_rerun_with_other_settings_refuses_or_redoes_everything(cfg, trained, tmp_path):
    out = str(tmp_path / 'masks')
    first = make_pseudo_masks(cfg, trained[1], out, mask_dir='SegmentationClass',
                              progress=False)
    with pytest.raises(ValueError, match=r'masks: holds pseudo masks made with other '
                       r'settings \(differ: crf;'):
        make_pseudo_masks(cfg, trained[1], out, mask_dir='SegmentationClass',
                          crf=dict(iterations=2), progress=False)
    with pytest.raises(ValueError, match=r'differ: flip, model, size'):
        make_pseudo_masks(cfg, trained[1], out, flip=True, size=(48, 48), progress=False)
    redone = make_pseudo_masks(cfg, trained[1], out, mask_dir='SegmentationClass',
                               crf=dict(iterations=2), overwrite=True, progress=False)
    assert redone['written'] == first['images'] and redone['reused'] == 0
    settings = json.load(open(osp.join(out, 'pseudo_masks.json')))
    assert settings['crf']['iterations'] == 2 and len(settings['checkpoint_sha256']) == 64


def test_a_folder_of_unknown_pngs_is_refused(cfg, trained, tmp_path):
    out = tmp_path / 'masks'
    out.mkdir()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(out / 'train_00000.png')
    with pytest.raises(ValueError, match='holds PNGs but no pseudo_masks.json'):
        make_pseudo_masks(cfg, trained[1], str(out), progress=False)


def test_tool_reports_written_and_reused(cfg, trained, tmp_path):
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    argv = [cfg_path, trained[1], '--out-dir', tmp_path / 'masks', '--mask-dir',
            'SegmentationClass']
    first = call_tool('tools/make_pseudo_masks.py', argv)
    assert '(16 written, 0 reused' in first and 'mIoU' in first
    assert '(0 written, 16 reused' in call_tool('tools/make_pseudo_masks.py', argv)


def test_tool_crf_unary_is_recorded_and_a_change_refused(cfg, trained, tmp_path):
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    argv = [cfg_path, trained[1], '--crf', '--out-dir', tmp_path / 'masks', '--cfg-options',
            'model.test_cfg.size=(32,32)']
    call_tool('tools/make_pseudo_masks.py', argv + ['--crf-unary', 'sum'])
    assert json.load(open(tmp_path / 'masks' / 'pseudo_masks.json'))['crf']['unary'] == 'sum'
    with pytest.raises(ValueError, match='differ: crf'):
        call_tool('tools/make_pseudo_masks.py', argv + ['--crf-unary', 'softmax'])


def test_crf_in_worker_processes_matches_one_process(cfg, trained, tmp_path):
    one = make_pseudo_masks(cfg, trained[1], str(tmp_path / 'a'), crf=dict(iterations=3),
                            workers=1, progress=False, mask_dir='SegmentationClass')
    two = make_pseudo_masks(cfg, trained[1], str(tmp_path / 'b'), crf=dict(iterations=3),
                            workers=2, progress=False, mask_dir='SegmentationClass')
    assert one['miou'] == pytest.approx(two['miou'])
    for f in [f for f in os.listdir(tmp_path / 'a') if f.endswith('.png')]:
        assert np.array_equal(np.array(Image.open(tmp_path / 'a' / f)),
                              np.array(Image.open(tmp_path / 'b' / f)))


def test_pseudo_masks_serve_as_seg_map_path_of_a_plain_mmseg_dataset(masks, demo_data):
    from mmseg.datasets import BaseSegDataset
    out, _ = masks
    ds = BaseSegDataset(data_root=demo_data, ann_file='ImageSets/Segmentation/train.txt',
                        img_suffix='.jpg', seg_map_suffix='.png',
                        metainfo=dict(classes=('background', 'disc', 'square', 'triangle')),
                        data_prefix=dict(img_path='JPEGImages', seg_map_path=out),
                        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                  dict(type='PackSegInputs')])
    sample = ds[0]['data_samples']
    img_id = osp.basename(ds.get_data_info(0)['img_path'])[:-4]
    want = np.array(Image.open(osp.join(out, img_id + '.png')))
    assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), want)


def test_infer_tool_on_a_folder(trained, demo_data, tmp_path, cfg):
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    images = tmp_path / 'images'
    images.mkdir()
    for name in ('val_00016.jpg', 'val_00017.jpg'):
        os.symlink(osp.join(demo_data, 'JPEGImages', name), images / name)
    call_tool('tools/infer.py', [cfg_path, trained[1], images, '--out', tmp_path / 'out',
                                 '--crf', '--flip', '--cfg-options', 'model.test_cfg.size=(48,48)'])
    for stem in ('val_00016', 'val_00017'):
        for suffix in ('.png', '_prediction.png', '_heatmaps.png'):
            assert osp.isfile(tmp_path / 'out' / (stem + suffix))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty holds no image'):
        call_tool('tools/infer.py', [cfg_path, trained[1], tmp_path / 'empty'])


def test_demo_end_to_end_shortened_with_two_seeds(tmp_path):
    import statistics

    from apc_lab.demo import run_demo_seeds
    work = tmp_path / 'work'
    summary = run_demo_seeds(DEMO_CONFIG, [0, 1], str(tmp_path / 'data'), str(work), iters=6,
                             num_train=12, num_val=4, num_test=4, workers=1)
    names = [r['what'] for r in summary['rows']]
    assert names[:2] == ['decode head (no labels)', 'decode head + CRF (no labels)']
    assert 'baseline: all background' in names
    runs = [json.load(open(work / f'seed_{s}' / 'summary.json')) for s in (0, 1)]
    assert [r['seed'] for r in runs] == [0, 1]
    for i, row in enumerate(summary['rows']):
        # every figure on the test split: mIoU and foreground share
        assert set(row) == {'what', 'test', 'fg_share'}
        for key in ('test', 'fg_share'):
            per_seed = [one['rows'][i][key] for one in runs]
            assert all(0 <= v <= 100 for v in per_seed)
            assert row[key]['values'] == per_seed
            assert row[key]['mean'] == pytest.approx(statistics.mean(per_seed))
            assert row[key]['std'] == pytest.approx(statistics.stdev(per_seed))
    for key in ('gt_fg_share', 'decode_pseudo_agreement'):
        assert summary[key]['values'] == [one[key] for one in runs]
    assert summary['rows'][names.index('baseline: all background')]['fg_share']['values'] \
        == [0.0, 0.0]
    for seed, one in zip((0, 1), runs):
        # the classifier's mAP is the last validation's, as mmengine logged it
        logged = [json.loads(line) for path in glob.glob(
            str(work / f'seed_{seed}' / '*' / 'vis_data' / 'scalars.json')) for line in open(path)]
        assert one['cls_mAP'] == [r for r in logged if 'cls_mAP' in r][-1]['cls_mAP']
        assert one['numerics']['threads'] == 1 and one['split'] == 'test'
        per_class = one['per_class_iou']
        assert per_class['classes'][0] == 'background' and per_class['split'] == 'test'
        assert len(per_class['decode']) == len(per_class['pseudo_crf_softmax']) == \
            len(per_class['pseudo_crf_sum']) == 4
        # one CRF row per unary, each the mean of its per-class IoU
        for unary in ('softmax', 'sum'):
            row = names.index(f'patch scores + image labels + CRF ({unary})')
            present = [v for v in per_class[f'pseudo_crf_{unary}'] if v == v]
            assert statistics.mean(present) == pytest.approx(one['rows'][row]['test'],
                                                             abs=1e-6)
        # the per-class mean is the reported mIoU (classes present in the set)
        present = [v for v in per_class['pseudo'] if v == v]
        row = names.index('patch scores + image labels')
        assert statistics.mean(present) == pytest.approx(one['rows'][row]['test'], abs=1e-6)
        # the shares: of the test split's ground truth, and of the masks written
        test_ids = open(tmp_path / 'data' / 'ImageSets/Segmentation/test.txt').read().split()
        gts = [np.array(Image.open(tmp_path / 'data' / 'SegmentationClass' / f'{i}.png'))
               for i in test_ids]
        masks = [np.array(Image.open(work / f'seed_{seed}' / 'pseudo_masks' / f'{i}.png'))
                 for i in test_ids]
        evaluated = sum(int((gt != 255).sum()) for gt in gts)
        assert one['gt_fg_share'] == pytest.approx(
            100 * sum(int(((gt != 0) & (gt != 255)).sum()) for gt in gts) / evaluated)
        assert one['rows'][row]['fg_share'] == pytest.approx(
            100 * sum(int(((m != 0) & (gt != 255)).sum()) for m, gt in zip(masks, gts))
            / evaluated)
        assert 0 <= one['decode_pseudo_agreement'] <= 100
    assert json.load(open(work / 'seeds_summary.json'))['seeds'] == [0, 1]
    vis = work / 'seed_0' / 'vis'
    assert len(glob.glob(str(vis / '*_heatmaps.png'))) == 4
    assert len(glob.glob(str(vis / '*_prediction.png'))) == 4


def test_a_wrong_or_missing_checkpoint_leaves_the_folder_as_it_was(cfg, trained, tmp_path):
    """The model and checkpoint are checked before anything is written, and the
    folder's record comes with its first mask: a failed start blocks nothing."""
    out = tmp_path / 'masks'
    with pytest.raises(FileNotFoundError):
        make_pseudo_masks(cfg, str(tmp_path / 'missing.pth'), str(out), progress=False)
    assert not out.exists()
    wrong = tmp_path / 'wrong.pth'
    torch.save(dict(state_dict={'unrelated.weight': torch.zeros(3)}), wrong)
    with pytest.raises(ValueError, match=f'{wrong}: not weights of this model'):
        make_pseudo_masks(cfg, str(wrong), str(out), progress=False)
    torch.save({'unrelated.weight': torch.zeros(3)}, wrong)  # bare weights, no state_dict
    with pytest.raises(ValueError, match=f'{wrong}: not weights of this model'):
        make_pseudo_masks(cfg, str(wrong), str(out), progress=False)
    assert not out.exists()
    done = make_pseudo_masks(cfg, trained[1], str(out), progress=False)  # the right one
    assert done['written'] == done['images'] > 0 and (out / 'pseudo_masks.json').is_file()


def test_every_inference_path_refuses_heads_of_another_class_count(cfg, trained, tmp_path):
    """init_model (so MMSegInferencer), the pseudo masks and tools/infer.py
    refuse the 4-class checkpoint for a 6-class config, naming the file and
    both counts, before writing anything (tools/test.py: test_train_test.py);
    a training run may start from it (fine-tuning: the heads are skipped)."""
    from mmseg.apis import init_model

    from apc_mmseg.engine import APCRunner
    six = copy.deepcopy(cfg)  # (Config.copy is shallow: the module's cfg stays)
    six.merge_from_dict({'model.decode_head.num_classes': 6, 'model.weak_head.num_classes': 6})
    said = f'{trained[1]}: its heads are for 4 classes, the config has 6'
    with pytest.raises(ValueError, match=said):
        init_model(six, trained[1], device='cpu')
    with pytest.raises(ValueError, match=said):
        make_pseudo_masks(six, trained[1], str(tmp_path / 'masks'), progress=False)
    assert not (tmp_path / 'masks').exists()
    six_path = str(tmp_path / 'six.py')
    six.dump(six_path)
    images = tmp_path / 'images'
    images.mkdir()
    os.symlink(glob.glob(osp.join(trained[2]['test_dataloader.dataset.data_root'],
                                  'JPEGImages', '*.jpg'))[0], images / 'a.jpg')
    with pytest.raises(ValueError, match=re.escape(said)):
        call_tool('tools/infer.py', [six_path, trained[1], images, '--out', tmp_path / 'out'])
    assert not glob.glob(str(tmp_path / 'out' / '*.png'))
    six.train_dataloader.dataset.pop('metainfo')  # the 4 classes' palette too
    six.merge_from_dict({'load_from': trained[1], 'work_dir': str(tmp_path / 'ft'),
                         'train_cfg.max_iters': 1, 'default_hooks.checkpoint.interval': 1,
                         'train_dataloader.dataset.metainfo': dict(classes=(
                             'background', 'disc', 'square', 'triangle', 'ring', 'cross')),
                         'val_dataloader': None, 'val_cfg': None, 'val_evaluator': None})
    APCRunner.from_cfg(six).train()  # fine-tuning from it is allowed
    assert osp.isfile(tmp_path / 'ft' / 'iter_1.pth')


def test_one_and_two_ranks_write_the_same_masks_and_resume_across(cfg, trained, tmp_path):
    """tools/dist_pseudo_masks.sh with 1 and 2 gloo processes: the same mask
    files byte for byte and the same mIoU; a 2-rank folder with masks missing
    is finished by 1 process, reusing what the 2 ranks wrote."""
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    env = dict(tool_env(), PYTHON=sys.executable, CUDA_VISIBLE_DEVICES='')
    outs, said = {}, {}
    for procs in (1, 2):
        outs[procs] = tmp_path / f'masks_{procs}'
        env['PORT'] = str(free_port())
        log = run(['bash', 'tools/dist_pseudo_masks.sh', cfg_path, trained[1], str(procs),
                   '--out-dir', str(outs[procs]), '--mask-dir', 'SegmentationClass'], env)
        said[procs] = re.search(r'\((\d+) written, (\d+) reused.*mIoU ([\d.]+)', log).groups()
    assert said[1] == said[2] and said[1][:2] == ('16', '0'), said
    names = sorted(p.name for p in outs[1].iterdir())
    assert names == sorted(p.name for p in outs[2].iterdir()) and len(names) == 17
    for name in names:
        assert (outs[1] / name).read_bytes() == (outs[2] / name).read_bytes(), name
    for name in [n for n in names if n.endswith('.png')][:3]:  # a 2-rank run cut short
        (outs[2] / name).unlink()
    # a process, as the ranks were: its mIoU is compared with theirs, and the tests'
    # processes may get other kernels than this one (pin_isa in test_numerics.py)
    log = run([sys.executable, 'tools/make_pseudo_masks.py', cfg_path, trained[1], '--out-dir',
               str(outs[2]), '--mask-dir', 'SegmentationClass'], tool_env())
    assert '(3 written, 13 reused' in log and f'mIoU {said[1][2]}' in log, log[-1000:]
