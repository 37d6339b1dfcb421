import json
import os
import os.path as osp

import numpy as np
import pytest
from PIL import Image

from apc_mmseg.datasets import WeakCOCODataset
from apc_mmseg.datasets.preparation import prepare_coco, prepare_voc

# ------------------------------------------------------------------- VOC


@pytest.fixture
def voc_root(tmp_path):
    """A VOC2012-like folder: 4 train, 2 val images, SegmentationClassAug masks."""
    root = tmp_path / 'VOC2012'
    for d in ('JPEGImages', 'SegmentationClassAug', 'SegmentationClass',
              'ImageSets/Segmentation'):
        (root / d).mkdir(parents=True)
    rng = np.random.default_rng(0)
    masks = {}
    for i in range(6):
        img_id = f'2007_{i:06d}'
        mask = np.zeros((20, 30), np.uint8)
        mask[2:8, 3:9] = 1 + i  # aeroplane, bicycle, ...
        mask[10:15, 10:20] = 15  # person
        mask[9, :] = 255
        masks[img_id] = mask
        Image.fromarray(mask).save(root / 'SegmentationClassAug' / f'{img_id}.png')
        Image.fromarray(mask).save(root / 'SegmentationClass' / f'{img_id}.png')
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(
            root / 'JPEGImages' / f'{img_id}.jpg')
    (root / 'ImageSets/Segmentation/train.txt').write_text('2007_000000\n2007_000001\n')
    (root / 'ImageSets/Segmentation/val.txt').write_text('2007_000004\n2007_000005\n')
    return str(root)


def test_voc_labels_and_train_aug(voc_root):
    prepare_voc(voc_root)
    train_aug = open(osp.join(voc_root, 'ImageSets/Segmentation/train_aug.txt')).read().split()
    assert train_aug == ['2007_000000', '2007_000001', '2007_000002', '2007_000003']
    labels = json.load(open(osp.join(voc_root, 'cls_labels.json')))
    assert labels['2007_000000'] == ['aeroplane', 'person']
    assert labels['2007_000003'] == ['boat', 'person']
    assert labels['2007_000005'] == ['bus', 'person']


def test_voc_bad_mask_value_names_the_file(voc_root):
    bad = np.zeros((20, 30), np.uint8)
    bad[0, 0] = 30
    Image.fromarray(bad).save(osp.join(voc_root, 'SegmentationClassAug', '2007_000002.png'))
    with pytest.raises(ValueError, match=r'2007_000002.png: label values \[30\]'):
        prepare_voc(voc_root)


def test_voc_missing_image_names_it(voc_root):
    os.remove(osp.join(voc_root, 'JPEGImages', '2007_000004.jpg'))
    with pytest.raises(FileNotFoundError, match='2007_000004.jpg'):
        prepare_voc(voc_root)


def test_voc_toco_labels(voc_root, tmp_path):
    vec = np.zeros(20, np.float32)
    vec[[2, 14]] = 1
    table = {f'2007_{i:06d}': vec for i in range(4)}
    np.save(tmp_path / 'cls_labels_onehot.npy', table)
    # relative to the data root, like --out; an absolute path as it is
    prepare_voc(voc_root, toco_labels=str(tmp_path / 'cls_labels_onehot.npy'))
    labels = json.load(open(osp.join(voc_root, 'cls_labels.json')))
    assert labels['2007_000001'] == ['bird', 'person']  # from ToCo's file
    assert labels['2007_000004'] == ['bottle', 'person']  # val: from the val masks

# ------------------------------------------------------------------ COCO


def square(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def crowd_rle():
    """Compressed RLE of columns 2..27 of a 20x30 image, as COCO stores crowds."""
    from pycocotools import mask as mask_utils
    m = np.zeros((20, 30), np.uint8, order='F')
    m[:, 2:28] = 1
    rle = mask_utils.encode(np.asfortranarray(m))
    return dict(counts=rle['counts'].decode('ascii'), size=[20, 30])


@pytest.fixture
def coco_root(tmp_path):
    root = tmp_path / 'coco2014'
    (root / 'annotations').mkdir(parents=True)
    # Real COCO category ids run 1..90 with gaps; the 80 used ones:
    cat_ids = [i for i in range(1, 91) if i not in
               (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
    assert len(cat_ids) == 80
    cats = [dict(id=c, name=f'c{c}', supercategory='x') for c in cat_ids]
    images = [dict(id=1, file_name='COCO_train2014_000000000001.jpg', height=20, width=30),
              dict(id=2, file_name='COCO_train2014_000000000002.jpg', height=20, width=30),
              dict(id=3, file_name='COCO_train2014_000000000003.jpg', height=20, width=30)]
    anns = [
        # image 1: a large person (id 1 -> 1) with a small dog (id 18 -> 17) on it
        dict(id=1, image_id=1, category_id=1, iscrowd=0, area=200.0,
             segmentation=square(0, 0, 20, 10), bbox=[0, 0, 20, 10]),
        dict(id=2, image_id=1, category_id=18, iscrowd=0, area=16.0,
             segmentation=square(5, 2, 9, 6), bbox=[5, 2, 4, 4]),
        # image 2: a crowd of people (ignored) partly covered by a toothbrush (id 90 -> 80)
        dict(id=3, image_id=2, category_id=1, iscrowd=1, area=100.0,
             segmentation=crowd_rle(), bbox=[2, 0, 27, 20]),
        dict(id=4, image_id=2, category_id=90, iscrowd=0, area=4.0,
             segmentation=square(25, 12, 27, 14), bbox=[25, 12, 2, 2]),
        # image 3 has no annotation: left out of the split
    ]
    json.dump(dict(images=images, annotations=anns, categories=cats),
              open(root / 'annotations' / 'instances_train2014.json', 'w'))
    return str(root)


def test_coco_label_pngs_overlap_rule_and_labels(coco_root):
    prepare_coco(coco_root, splits=('train',))
    out = osp.join(coco_root, 'SegmentationClass', 'train2014')
    m1 = np.array(Image.open(osp.join(out, 'COCO_train2014_000000000001.png')))
    assert m1.shape == (20, 30)
    assert m1[1, 1] == 1 and m1[4, 7] == 17  # the small dog stays on top of the person
    assert m1[15, 25] == 0
    m2 = np.array(Image.open(osp.join(out, 'COCO_train2014_000000000002.png')))
    assert set(np.unique(m2).tolist()) == {0, 80, 255}
    assert m2[13, 26] == 80
    ids = open(osp.join(coco_root, 'train.txt')).read().split()
    assert ids == ['COCO_train2014_000000000001', 'COCO_train2014_000000000002']
    labels = json.load(open(osp.join(coco_root, 'cls_labels.json')))
    names = WeakCOCODataset.METAINFO['classes']
    assert labels['COCO_train2014_000000000001'] == sorted([names[1], names[17]])
    assert labels['COCO_train2014_000000000002'] == sorted([names[1], names[80]])


def test_coco_resumes_and_rewrites_broken_pngs(coco_root):
    prepare_coco(coco_root, splits=('train',))
    out = osp.join(coco_root, 'SegmentationClass', 'train2014')
    good = osp.join(out, 'COCO_train2014_000000000001.png')
    broken = osp.join(out, 'COCO_train2014_000000000002.png')
    mtime = os.stat(good).st_mtime_ns
    open(broken, 'wb').write(b'\x89PNG truncated')
    prepare_coco(coco_root, splits=('train',))
    assert os.stat(good).st_mtime_ns == mtime  # kept
    assert np.array(Image.open(broken)).shape == (20, 30)  # written again


def test_coco_dataset_reads_the_prepared_files(coco_root):
    prepare_coco(coco_root, splits=('train',))
    os.makedirs(osp.join(coco_root, 'train2014'))
    for i in (1, 2):
        Image.fromarray(np.zeros((20, 30, 3), np.uint8)).save(
            osp.join(coco_root, 'train2014', f'COCO_train2014_00000000000{i}.jpg'))
    ds = WeakCOCODataset(data_root=coco_root, ann_file='train.txt',
                         labels_file='cls_labels.json',
                         data_prefix=dict(img_path='train2014',
                                          seg_map_path='SegmentationClass/train2014'))
    assert len(ds) == 2
    assert ds.get_data_info(0)['image_labels'] == [1, 17]


def test_weak_voc_dataset_on_the_prepared_folder(voc_root):
    from apc_mmseg.datasets import WeakVOCDataset
    prepare_voc(voc_root)
    train = WeakVOCDataset(data_root=voc_root, ann_file='ImageSets/Segmentation/train_aug.txt',
                           labels_file='cls_labels.json', data_prefix=dict(img_path='JPEGImages'),
                           pipeline=[dict(type='LoadImageFromFile'),
                                     dict(type='LoadImageLevelLabels'),
                                     dict(type='PackWeakSegInputs')])
    assert len(train) == 4
    sample = train[1]['data_samples']
    assert sample.gt_image_labels.nonzero()[:, 0].tolist() == [0, 2, 15]  # bicycle, person
    assert 'gt_sem_seg' not in sample
    val = WeakVOCDataset(data_root=voc_root, ann_file='ImageSets/Segmentation/val.txt',
                         data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
                         pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                                   dict(type='PackWeakSegInputs')], test_mode=True)
    assert val[0]['data_samples'].gt_sem_seg.data.shape == (1, 20, 30)
    assert val.metainfo['classes'][15] == 'person'
