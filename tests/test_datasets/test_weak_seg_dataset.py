import json
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch

from apc_mmseg.datasets import (
    LoadImageLevelLabels,
    WeakCOCODataset,
    WeakSegDataset,
    WeakVOCDataset,
    read_image_labels,
    voc_palette,
)

DEMO_META = dict(classes=('background', 'disc', 'square', 'triangle'))


def make_dataset(root, **kw):
    args = dict(data_root=root, metainfo=DEMO_META,
                data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                ann_file='ImageSets/Segmentation/train.txt', labels_file='cls_labels.json')
    args.update(kw)
    return WeakSegDataset(**args)


@pytest.fixture
def data_copy(demo_data, tmp_path):
    dst = str(tmp_path / 'data')
    shutil.copytree(demo_data, dst)
    return dst


def test_labels_match_the_masks(demo_data):
    ds = make_dataset(demo_data)
    assert len(ds) == 16
    for info in (ds.get_data_info(i) for i in range(len(ds))):
        from PIL import Image
        mask = np.array(Image.open(info['seg_map_path']))
        assert info['image_labels'] == sorted(set(np.unique(mask).tolist()) - {0})


def test_pipeline_packs_multi_hot_labels_with_background(demo_data):
    ds = make_dataset(demo_data, data_prefix=dict(img_path='JPEGImages'), pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='LoadImageLevelLabels', num_classes=4),
        dict(type='PackWeakSegInputs'),
    ])
    sample = ds[0]['data_samples']
    labels = sample.gt_image_labels
    assert labels.dtype == torch.float32 and labels.shape == (4,)
    assert labels[0] == 1
    want = torch.zeros(4)
    want[0] = 1
    want[ds.get_data_info(0)['image_labels']] = 1
    assert torch.equal(labels, want)
    assert 'gt_sem_seg' not in sample  # training reads no mask


def test_missing_image_names_the_file(data_copy):
    os.remove(osp.join(data_copy, 'JPEGImages', 'train_00003.jpg'))
    with pytest.raises(FileNotFoundError, match='train_00003.jpg'):
        make_dataset(data_copy)


def test_corrupt_image_names_the_file(data_copy):
    path = osp.join(data_copy, 'JPEGImages', 'train_00002.jpg')
    open(path, 'wb').write(b'not a jpeg at all')
    ds = make_dataset(data_copy, data_prefix=dict(img_path='JPEGImages'), pipeline=[
        dict(type='LoadImageFromFile'), dict(type='LoadImageLevelLabels'),
        dict(type='PackWeakSegInputs')], max_refetch=0)
    idx = [ds.get_data_info(i)['img_id'] for i in range(len(ds))].index('train_00002')
    with pytest.raises(Exception, match='train_00002.jpg'):
        ds[idx]


def test_labels_file_without_an_image_of_the_split(data_copy):
    path = osp.join(data_copy, 'cls_labels.json')
    table = json.load(open(path))
    del table['train_00005']
    json.dump(table, open(path, 'w'))
    with pytest.raises(KeyError, match="cls_labels.json has no labels for image 'train_00005'"):
        make_dataset(data_copy)


def test_unknown_class_name(data_copy):
    path = osp.join(data_copy, 'cls_labels.json')
    table = json.load(open(path))
    table['train_00001'] = ['disc', 'hexagon']
    json.dump(table, open(path, 'w'))
    with pytest.raises(ValueError, match=r"cls_labels.json: image 'train_00001'.*hexagon"):
        make_dataset(data_copy)


def test_empty_split(data_copy):
    open(osp.join(data_copy, 'ImageSets/Segmentation/empty.txt'), 'w').write('\n')
    with pytest.raises(ValueError, match='empty.txt lists no images'):
        make_dataset(data_copy, ann_file='ImageSets/Segmentation/empty.txt')


def test_corrupt_labels_file(data_copy):
    open(osp.join(data_copy, 'cls_labels.json'), 'w').write('{"a": [')
    with pytest.raises(ValueError, match='cls_labels.json: not valid JSON'):
        make_dataset(data_copy)


def test_class_list_must_start_with_background(demo_data):
    with pytest.raises(ValueError, match="start with 'background'"):
        make_dataset(demo_data, metainfo=dict(classes=('disc', 'square')))


def test_toco_onehot_npy(tmp_path):
    classes = WeakVOCDataset.METAINFO['classes']
    vec = np.zeros(20, np.float32)
    vec[[0, 14]] = 1  # aeroplane, person
    path = str(tmp_path / 'cls_labels_onehot.npy')
    np.save(path, {'2007_000032': vec})
    assert read_image_labels(path, classes) == {'2007_000032': [1, 15]}
    np.save(path, {'2007_000032': np.zeros(80)})
    with pytest.raises(ValueError, match='has 80 entries, the class list has 20'):
        read_image_labels(path, classes)


def test_label_index_out_of_range():
    t = LoadImageLevelLabels(num_classes=4)
    with pytest.raises(ValueError, match='x.jpg: class index out of range'):
        t(dict(img_path='x.jpg', image_labels=[1, 4]))
    with pytest.raises(KeyError, match='x.jpg has no image_labels'):
        t(dict(img_path='x.jpg'))


def test_metainfo_and_palette():
    assert len(WeakVOCDataset.METAINFO['classes']) == 21
    assert len(WeakCOCODataset.METAINFO['classes']) == 81
    palette = voc_palette(81)
    assert palette[:4] == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert palette[15] == [192, 128, 128]  # VOC person
    assert len({tuple(p) for p in palette}) == 81


class _MakesADirectory:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return os.mkdir, (self.path,)


@pytest.mark.parametrize('payload', ['value', 'key', 'top'])
def test_a_tag_npy_that_would_run_code_is_refused(tmp_path, demo_data, payload):
    """np.load(allow_pickle=True) would run the payload; the tag reader
    names the file and what it wanted, and nothing ran."""
    classes = WeakVOCDataset.METAINFO['classes']
    marker = str(tmp_path / 'pwned')
    evil = _MakesADirectory(marker)
    table = {'value': {'2007_000032': evil}, 'key': {evil: np.zeros(20)},
             'top': evil}[payload]
    path = str(tmp_path / 'cls_labels_onehot.npy')
    np.save(path, np.array(table, dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=rf'{re.escape(path)}: .*names posix\.mkdir'):
        read_image_labels(path, classes)
    assert not osp.exists(marker)
    with pytest.raises(ValueError, match=re.escape(path)):  # through the dataset too
        make_dataset(demo_data, labels_file=path)
    assert not osp.exists(marker)


def test_a_plain_npy_array_is_not_a_tag_table(tmp_path):
    path = str(tmp_path / 'labels.npy')
    np.save(path, np.zeros((3, 20)))
    with pytest.raises(ValueError, match=f'{re.escape(path)}: not a dict of one-hot vectors'):
        read_image_labels(path, WeakVOCDataset.METAINFO['classes'])


def test_a_tag_npy_that_forges_object_pointers_is_refused(tmp_path):
    """``numpy.ndarray((), dtype('O'), b'AAAAAAAA')`` in the pickle would make
    an object array whose element is the pointer 0x4141414141414141 (a crash
    or worse on ``.item()``); numpy's own names only, no callable of ours."""
    header = {'descr': '|O', 'fortran_order': False, 'shape': ()}
    payload = (b'\x80\x02cnumpy\nndarray\n)cnumpy\ndtype\n(X\x02\x00\x00\x00O8K\x00K\x01tR'
               b'C\x08AAAAAAAA\x87R.')
    path = str(tmp_path / 'cls_labels_onehot.npy')
    with open(path, 'wb') as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(payload)
    with pytest.raises(ValueError, match=rf'{re.escape(path)}: .*calls numpy.ndarray on raw '):
        read_image_labels(path, WeakVOCDataset.METAINFO['classes'])
