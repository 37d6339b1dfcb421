"""Every config under configs/apc builds, and shrunk to a tiny size trains and predicts."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
STAGE2 = osp.join(REPO, 'configs/apc/deeplabv3plus_r101_voc_apc_pseudo.py')
CONFIGS = sorted(set(glob.glob(osp.join(REPO, 'configs/apc/*.py'))) - {STAGE2})


def shrink(model_cfg):
    """Overrides that keep each backbone's type but make it tiny (no weights)."""
    bb = model_cfg.backbone
    bb.init_cfg = None
    kind = bb.type.split('.')[-1]
    if kind == 'VisionTransformer' and not bb.type.startswith('mmpretrain.'):  # mmseg's
        bb.update(embed_dims=32, num_layers=4, num_heads=2, img_size=(64, 64),
                  out_indices=(0, 1, 2, 3), frozen_exclude=['layers.2.', 'layers.3.'])
        chans = [32] * 4
    elif kind == 'VisionTransformer':
        bb.update(arch=dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64),
                  img_size=64, frozen_stages=min(bb.get('frozen_stages', -1), 2),
                  out_indices=tuple(range(4 - len(bb.out_indices), 4)))
        chans = [32] * len(bb.out_indices)
    elif kind == 'MixVisionTransformer':
        bb.update(embed_dims=8, num_layers=[1, 1, 1, 1])
        chans = [8 * h for h in bb.num_heads]
    elif kind == 'ConvNeXt':
        bb.update(arch=dict(depths=[1, 1, 1, 1], channels=[8, 16, 32, 64]))
        chans = [8, 16, 32, 64]
    elif kind in ('ResNetV1c', 'ResNet'):
        bb.update(depth=18, base_channels=8, stem_channels=8)
        chans = [8 * 2 ** i for i in range(bb.get('num_stages', 4))]
    else:
        raise AssertionError(f'add a shrink rule for {kind}')
    last = chans[-1]
    model_cfg.neck.in_channels = last
    model_cfg.weak_head.in_channels = last
    model_cfg.decode_head.update(in_channels=chans, channels=16,
                                 norm_cfg=dict(type='GN', num_groups=4, requires_grad=True))
    model_cfg.data_preprocessor.size = (64, 64)
    model_cfg.test_cfg.size = (64, 64)
    return model_cfg


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_runs_when_shrunk(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmseg'
    assert 'apc_mmseg' in cfg.custom_imports.imports
    assert cfg.model.type == 'APCSegmentor'
    full = MODELS.build(cfg.model)  # the real size builds (no weights loaded)
    from mmseg.registry import DATASETS
    ds = cfg.train_dataloader.dataset
    classes = ds.get('metainfo', {}).get('classes') or DATASETS.get(ds.type).METAINFO['classes']
    assert len(classes) == full.num_classes
    del full

    torch.manual_seed(0)
    model = MODELS.build(shrink(cfg.model))
    C = model.num_classes
    from helpers import batch
    labels = [[1] + [0] * (C - 1), [1, 1] + [0] * (C - 2)]
    data = model.data_preprocessor(batch(size=(64, 64), labels=labels), True)
    losses = model(**data, mode='loss')
    assert {'loss_cls', 'loss_pcl', 'loss_seg'} <= set(losses)
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(batch(size=(64, 64), labels=labels), False),
                    mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_stage2_config_is_plain_mmseg_on_pseudo_masks():
    cfg = Config.fromfile(STAGE2)
    ds = cfg.train_dataloader.dataset
    assert ds.type == 'PascalVOCDataset'
    assert ds.data_prefix.seg_map_path == 'PseudoMasksAPC'
    assert ds.ann_file.endswith('train_aug.txt')
    assert cfg.model.pretrained is None  # nothing is downloaded
    model = MODELS.build(cfg.model)
    assert type(model).__name__ == 'EncoderDecoder'
    assert model.backbone.depth == 101


def test_own_data_template_trains_validates_and_tests(demo_data, tmp_path):
    """configs/apc/apc_vitb16_own_data.py on generated data laid out as it asks
    (images/, masks/, train.txt, val.txt, labels.json), model shrunk: 2
    iterations, a validation and a test run through (its validation set
    once had no pipeline and stopped at the first validation)."""
    import json
    import os
    import shutil

    from apc_mmseg.engine import APCRunner
    root = tmp_path / 'my_data'
    root.mkdir()
    os.symlink(osp.join(demo_data, 'JPEGImages'), root / 'images')
    os.symlink(osp.join(demo_data, 'SegmentationClass'), root / 'masks')
    for split in ('train', 'val'):
        shutil.copy(osp.join(demo_data, f'ImageSets/Segmentation/{split}.txt'),
                    root / f'{split}.txt')
    tags = json.load(open(osp.join(demo_data, 'cls_labels.json')))
    (root / 'labels.json').write_text(json.dumps(tags))
    cfg = Config.fromfile(osp.join(REPO, 'configs/apc/apc_vitb16_own_data.py'))
    classes = ('background', 'disc', 'square', 'triangle')  # the generated set's
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.dataset.update(data_root=str(root), metainfo=dict(classes=classes))
        loader.update(num_workers=0, persistent_workers=False)
    cfg.model.weak_head.num_classes = cfg.model.decode_head.num_classes = len(classes)
    shrink(cfg.model)
    cfg.train_dataloader.dataset.pipeline[2].scale = (64, 64)
    cfg.merge_from_dict({'global_batch_size': 2, 'train_dataloader.batch_size': 2,
                         'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
                         'default_hooks.checkpoint.interval': 2, 'work_dir': str(tmp_path)})
    runner = APCRunner.from_cfg(cfg)
    runner.train()
    metrics = runner.test()
    assert 0 <= metrics['mIoU'] <= 100
