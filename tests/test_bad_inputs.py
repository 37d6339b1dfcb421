"""The bad-input matrix: each case is a clear error naming the file, or a
documented, logged handling. One row per case."""
import json
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
from helpers import DEMO_CONFIG, mmlogger_records
from mmengine.config import Config
from PIL import Image

from apc_mmseg.datasets import LoadCheckedImageFromFile, WeakSegDataset

META = dict(classes=('background', 'disc', 'square', 'triangle'))
TRAIN_PIPE = [dict(type='LoadCheckedImageFromFile'), dict(type='LoadImageLevelLabels'),
              dict(type='Resize', scale=(96, 96), keep_ratio=False),
              dict(type='PackWeakSegInputs')]
EVAL_PIPE = [dict(type='LoadCheckedImageFromFile'), dict(type='LoadAnnotations'),
             dict(type='PackWeakSegInputs')]


def dataset(root, pipeline=TRAIN_PIPE, **kw):
    args = dict(data_root=root, metainfo=META, ann_file='ImageSets/Segmentation/train.txt',
                labels_file='cls_labels.json', pipeline=pipeline,
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                serialize_data=False)
    args.update(kw)
    return WeakSegDataset(**args)


def sample(ds, img_id):
    ids = [ds.get_data_info(i)['img_id'] for i in range(len(ds))]
    return ds.prepare_data(ids.index(img_id))


def img(root, img_id):
    return osp.join(root, 'JPEGImages', img_id + '.jpg')


def edit_labels(root, fn):
    path = osp.join(root, 'cls_labels.json')
    table = json.load(open(path))
    fn(table)
    json.dump(table, open(path, 'w'))


# Each case: (prepare(root) -> action() , expected error type, regex) or an
# action that returns and is checked by `check`.
def missing_image(root):
    os.remove(img(root, 'train_00003'))
    return lambda: dataset(root)


def truncated_jpeg(root):
    data = open(img(root, 'train_00002'), 'rb').read()
    open(img(root, 'train_00002'), 'wb').write(data[:len(data) // 2])
    return lambda: sample(dataset(root), 'train_00002')


def wrong_length_vector(root):
    np.save(osp.join(root, 'onehot.npy'), {'train_00000': np.zeros(80)})
    return lambda: dataset(root, labels_file='onehot.npy')


def unknown_class_name(root):
    edit_labels(root, lambda t: t.__setitem__('train_00001', ['disc', 'hexagon']))
    return lambda: dataset(root)


def unknown_class_index(root):
    ds = dataset(root)
    ds.get_data_info(0)  # make sure it built
    ds.data_list[0]['image_labels'] = [7]
    return lambda: ds.prepare_data(0)


def empty_split(root):
    open(osp.join(root, 'ImageSets/Segmentation/empty.txt'), 'w').write('')
    return lambda: dataset(root, ann_file='ImageSets/Segmentation/empty.txt')


def labels_file_misses_an_image(root):
    edit_labels(root, lambda t: t.pop('train_00004'))
    return lambda: dataset(root)


def mask_of_another_size(root):
    Image.fromarray(np.zeros((7, 9), np.uint8)).save(
        osp.join(root, 'SegmentationClass', 'train_00005.png'))
    return lambda: sample(dataset(root, pipeline=EVAL_PIPE), 'train_00005')


def class_count_disagrees(root):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(DEMO_CONFIG).model
    cfg.weak_head.num_classes = cfg.decode_head.num_classes = 6
    model = MODELS.build(cfg)
    ds = dataset(root)
    from mmengine.dataset import pseudo_collate
    data = pseudo_collate([ds[0], ds[1]])
    return lambda: model.train_step(data, _null_optim(model))


def _null_optim(model):
    from mmengine.optim import OptimWrapper
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.0))


def checkpoint_of_another_model(root):
    from mmseg.apis import init_model
    from mmseg.registry import MODELS
    other = Config.fromfile(DEMO_CONFIG).model
    other.backbone = dict(type='ResNetV1c', depth=18, base_channels=8, stem_channels=8,
                          num_stages=3, out_indices=(0, 1, 2), strides=(1, 2, 2),
                          dilations=(1, 1, 1))
    other.neck.in_channels = other.weak_head.in_channels = 32
    other.decode_head.update(in_channels=[8, 16, 32], in_index=[0, 1, 2])
    path = osp.join(root, 'resnet_apc.pth')
    torch.save(dict(state_dict=MODELS.build(other).state_dict(), meta={}), path)
    return lambda: init_model(DEMO_CONFIG, path, device='cpu')


ERRORS = [
    ('missing image', missing_image, FileNotFoundError, 'train_00003.jpg'),
    ('truncated JPEG', truncated_jpeg, ValueError, r'train_00002.jpg: truncated JPEG'),
    ('label vector of the wrong length', wrong_length_vector, ValueError,
     r'onehot.npy: label of .train_00000. has 80 entries'),
    ('unknown class name', unknown_class_name, ValueError, r'cls_labels.json: .*hexagon'),
    ('unknown class id', unknown_class_index, ValueError, r'\.jpg: class index out of range'),
    ('empty split', empty_split, ValueError, 'empty.txt lists no images'),
    ('labels file misses an image of the split', labels_file_misses_an_image, KeyError,
     'train_00004'),
    ('mask size differs from its image', mask_of_another_size, ValueError,
     r'train_00005.png: mask of size \(7, 9\)'),
    ('config class count disagrees with the dataset', class_count_disagrees, ValueError,
     r'\.jpg: image labels have 4 classes but the model has 6'),
    ('checkpoint of another architecture', checkpoint_of_another_model, ValueError,
     r'resnet_apc.pth: not weights of this model'),
]


@pytest.fixture
def root(demo_data, tmp_path):
    dst = str(tmp_path / 'data')
    shutil.copytree(demo_data, dst)
    return dst


@pytest.mark.parametrize('name,prepare,error,pattern', ERRORS, ids=[e[0] for e in ERRORS])
def test_clear_error_naming_the_file(root, name, prepare, error, pattern):
    action = prepare(root)
    with pytest.raises(error, match=pattern):
        action()


@pytest.mark.parametrize('mode', ['L', 'RGBA'])
def test_grayscale_and_rgba_load_as_colour(tmp_path, mode):
    # Documented handling: mmcv's colour loading turns them into 3 channels.
    path = str(tmp_path / f'x_{mode}.png')
    Image.fromarray(np.full((12, 10, len(mode)) if mode == 'RGBA' else (12, 10), 90,
                            np.uint8)).save(path)
    out = LoadCheckedImageFromFile()(dict(img_path=path))
    assert out['img'].shape == (12, 10, 3)


def test_image_smaller_than_the_crop_is_resized_up(root):
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(img(root, 'train_00006'))
    packed = sample(dataset(root), 'train_00006')
    assert packed['inputs'].shape == (3, 96, 96)


def test_background_only_image_is_logged_and_trains_as_background(root):
    edit_labels(root, lambda t: t.__setitem__('train_00007', []))
    with mmlogger_records() as records:
        ds = dataset(root)
    assert any('1 of 16 images' in r.getMessage() and 'train_00007' in r.getMessage()
               for r in records)
    labels = sample(ds, 'train_00007')['data_samples'].gt_image_labels
    assert labels.tolist() == [1.0, 0.0, 0.0, 0.0]
