"""tools/make_pseudo_masks.py, stage-2 reading of its output, tools/infer.py, tools/demo.py."""
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from conftest import DEMO_CONFIG
from make_pseudo_masks import make_pseudo_masks


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


def test_second_run_skips_done_images_and_scores_them_the_same(masks, cfg, trained):
    out, res = masks
    before = {f: os.stat(osp.join(out, f)).st_mtime_ns for f in os.listdir(out)}
    again = make_pseudo_masks(cfg, trained[1], out, mask_dir='SegmentationClass',
                              progress=False)
    assert {f: os.stat(osp.join(out, f)).st_mtime_ns for f in os.listdir(out)} == before
    assert again['miou'] == pytest.approx(res['miou'])


def test_crf_in_worker_processes_matches_one_process(cfg, trained, tmp_path):
    one = make_pseudo_masks(cfg, trained[1], str(tmp_path / 'a'), crf=dict(iterations=3),
                            workers=1, progress=False, mask_dir='SegmentationClass')
    two = make_pseudo_masks(cfg, trained[1], str(tmp_path / 'b'), crf=dict(iterations=3),
                            workers=2, progress=False, mask_dir='SegmentationClass')
    assert one['miou'] == pytest.approx(two['miou'])
    for f in os.listdir(tmp_path / 'a'):
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
    from infer import main
    cfg_path = str(tmp_path / 'cfg.py')
    cfg.dump(cfg_path)
    images = tmp_path / 'images'
    images.mkdir()
    for name in ('val_00016.jpg', 'val_00017.jpg'):
        os.symlink(osp.join(demo_data, 'JPEGImages', name), images / name)
    main([cfg_path, trained[1], str(images), '--out', str(tmp_path / 'out')])
    for stem in ('val_00016', 'val_00017'):
        for suffix in ('.png', '_prediction.png', '_heatmaps.png'):
            assert osp.isfile(tmp_path / 'out' / (stem + suffix))
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty holds no image'):
        main([cfg_path, trained[1], str(tmp_path / 'empty')])


def test_demo_end_to_end_shortened(tmp_path):
    from demo import main
    work = tmp_path / 'work'
    summary = main(['--data', str(tmp_path / 'data'), '--work-dir', str(work), '--iters', '6',
                    '--num-train', '12', '--num-val', '4', '--workers', '1'])
    names = [r['what'] for r in summary['rows']]
    assert names[0] == 'decode head (no labels)' and 'baseline: all background' in names
    for row in summary['rows']:
        for v in (row['val'], row['train']):
            assert v is None or 0 <= v <= 100
    assert json.load(open(work / 'summary.json'))['rows'] == summary['rows']
    assert len(glob.glob(str(work / 'vis' / '*_heatmaps.png'))) == 4
    assert len(glob.glob(str(work / 'vis' / '*_prediction.png'))) == 4
