"""Every config under configs/apc builds, and shrunk to a tiny size trains,
validates and tests on generated data laid out as it reads its data."""
import glob
import os
import os.path as osp
import shutil

import pytest
from helpers import load_config
from mmengine.config import Config
from mmengine.runner import Runner
from mmseg.registry import DATASETS, MODELS, RUNNERS

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
    elif kind == 'EfficientNetLite':  # small already (3.4 M parameters up to stage 4)
        chans = [(32, 16, 24, 40, 112, 320, 1280)[i] for i in bb.out_indices]
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
def test_config_builds_at_full_size(path):
    """The real model of each config builds (no weights loaded), its heads
    sized for its data set's classes; the shrunk run is below."""
    cfg = load_config(path)
    assert cfg.default_scope == 'mmseg'
    assert 'apc_mmseg' in cfg.custom_imports.imports
    assert cfg.model.type == 'APCSegmentor'
    full = MODELS.build(cfg.model)
    ds = cfg.train_dataloader.dataset
    classes = ds.get('metainfo', {}).get('classes') or DATASETS.get(ds.type).METAINFO['classes']
    assert len(classes) == full.num_classes


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


GENERATED_CLASSES = ('background', 'disc', 'square', 'triangle')  # the demo set's
# Dataset types whose class list is fixed (VOC's, COCO's): the same layout with
# the generated set's classes is read by their parent type.
OPEN_TYPE = {'WeakVOCDataset': 'WeakSegDataset', 'WeakCOCODataset': 'WeakSegDataset',
             'PascalVOCDataset': 'BaseSegDataset'}


def datasets_of(cfg):
    """(role, dataset config) for every data set a config reads; role says
    which list of the generated set it gets ('train' or 'val')."""
    found = [('train', cfg.train_dataloader.dataset)]
    for loader in (cfg.val_dataloader, cfg.test_dataloader):
        ds = loader.dataset
        found += [('val', ds.val), ('train', ds.train)] if ds.type == 'WSSSValDataset' \
            else [('val', ds)]
    return found


def lay_out(ds, role, demo_data, root):
    """Point ``ds`` at ``root`` and put the generated set where it looks:
    its image and mask folders, its id list and tag file, wherever the config
    names them."""
    prefix = ds.get('data_prefix', {})
    for key, src in (('img_path', 'JPEGImages'), ('seg_map_path', 'SegmentationClass')):
        dst = osp.join(root, prefix.get(key, ''))
        if key in prefix and not osp.lexists(dst):
            os.makedirs(osp.dirname(dst), exist_ok=True)
            os.symlink(osp.join(demo_data, src), dst)
    files = [(ds.ann_file, f'ImageSets/Segmentation/{role}.txt')]
    if ds.get('labels_file'):
        files.append((ds.labels_file, 'cls_labels.json'))
    for name, src in files:
        os.makedirs(osp.dirname(osp.join(root, name)), exist_ok=True)
        shutil.copy(osp.join(demo_data, src), osp.join(root, name))
    if 'type' in ds:  # (WSSSValDataset's training part may take val's)
        ds.type = OPEN_TYPE.get(ds.type, ds.type)
    ds.data_root = root
    ds['metainfo'] = dict(classes=GENERATED_CLASSES)  # replaced, palette included
    if ds.get('type') == 'BaseSegDataset':
        ds.update(img_suffix='.jpg', seg_map_suffix='.png')


def shrink_pipelines(cfg, size=(64, 64)):
    for _, ds in datasets_of(cfg):
        for t in ds.get('pipeline', []):
            if t.type in ('Resize', 'RandomResize'):
                t.scale = size
            elif t.type == 'RandomCrop':
                t.crop_size = size


def shrink_stage2(model_cfg):
    """mmseg's DeepLabV3+ made tiny: ResNet-18 at 8 base channels."""
    model_cfg.backbone.update(depth=18, base_channels=8, stem_channels=8, init_cfg=None)
    model_cfg.decode_head.update(in_channels=64, channels=16, c1_in_channels=8, c1_channels=8)
    model_cfg.auxiliary_head.update(in_channels=32, channels=8)
    model_cfg.data_preprocessor.size = (64, 64)
    return model_cfg


# The compiled mmcv ops (``mmcv._ext``) each config's model calls in training
# and prediction; a config not named calls none. The Makefile builds mmcv's
# ops for the CPU by default (no nvcc needed on a GPU host) because of this.
MMCV_OPS_NEEDED = {}


@pytest.fixture
def mmcv_ext_calls(monkeypatch):
    """The names of the ``mmcv._ext`` functions called inside the test: every
    function of the extension is wrapped (mmcv.ops looks them up on the
    module at each call)."""
    import mmcv._ext as ext
    called = set()

    def recording(name, fn):
        def call(*args, **kwargs):
            called.add(name)
            return fn(*args, **kwargs)
        return call
    for name in dir(ext):
        fn = getattr(ext, name)
        if callable(fn) and not name.startswith('_'):
            monkeypatch.setattr(ext, name, recording(name, fn))
    return called


@pytest.mark.parametrize('path', CONFIGS + [STAGE2], ids=osp.basename)
def test_config_trains_validates_and_tests_on_generated_data(path, demo_data, tmp_path,
                                                             mmcv_ext_calls):
    """Each shipped config, on the generated set laid out the way the config
    reads its data (VOC's, COCO's, the own-data template's), its model shrunk:
    2 iterations, a validation and a test run through the config's own
    runner, loaders, pipelines and evaluators (the own-data template once had
    a validation set without a pipeline and stopped at its first validation).
    The mmcv ops it calls are the ones ``MMCV_OPS_NEEDED`` lists."""
    cfg = load_config(path)
    root = str(tmp_path / 'data')
    for role, ds in datasets_of(cfg):
        lay_out(ds, role, demo_data, root)
    shrink_pipelines(cfg)
    model = cfg.model
    if path == STAGE2:
        shrink_stage2(model)
        heads = (model.decode_head, model.auxiliary_head)
    else:
        shrink(model)
        heads = (model.weak_head, model.decode_head)
    for head in heads:
        head.num_classes = len(GENERATED_CLASSES)
    for loader in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        loader.update(num_workers=0, persistent_workers=False)
    cfg.merge_from_dict({'global_batch_size': 2, 'train_dataloader.batch_size': 2,
                         'train_cfg.max_iters': 2, 'train_cfg.val_interval': 2,
                         'default_hooks.checkpoint.interval': 2, 'work_dir': str(tmp_path)})
    runner = RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)
    runner.train()
    assert osp.isfile(tmp_path / 'iter_2.pth')
    metrics = runner.test()
    assert 0 <= metrics['mIoU'] <= 100
    assert mmcv_ext_calls == MMCV_OPS_NEEDED.get(osp.basename(path), set())


def test_recording_sees_an_mmcv_op(mmcv_ext_calls):
    """The recorder itself: a call of an mmcv op through mmcv.ops is seen."""
    import torch
    from mmcv.ops import nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 10., 10.], [20., 20., 30., 30.]])
    keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)[1]
    assert keep.tolist() == [0, 2] and mmcv_ext_calls == {'nms'}
