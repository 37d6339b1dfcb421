import numpy as np
import pytest
import torch
from mmseg.evaluation import IoUMetric
from PIL import Image

import apc_mmseg  # noqa: F401
from apc_mmseg.datasets import WSSSValDataset

META = dict(classes=('background', 'disc', 'square', 'triangle'))


def parts(root):
    val = dict(type='WeakSegDataset', data_root=root, metainfo=META,
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               ann_file='ImageSets/Segmentation/val.txt',
               pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                         dict(type='PackWeakSegInputs')])
    train = dict(val, ann_file='ImageSets/Segmentation/train.txt', labels_file='cls_labels.json',
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadImageLevelLabels'),
                           dict(type='LoadAnnotations'), dict(type='PackWeakSegInputs')])
    return val, train


def test_training_images_follow_the_val_set_marked_and_blanked(demo_data):
    val, train = parts(demo_data)
    ds = WSSSValDataset(val, train, num_train=5)
    assert len(ds) == 4 + 5
    first = ds[0]['data_samples']
    assert 'wsss_role' not in first.metainfo and 'gt_train_sem_seg' not in first
    s = ds[4]['data_samples']
    assert s.metainfo['wsss_role'] == 'train'
    assert s.metainfo['img_path'].endswith('train_00000.jpg')
    mask = np.array(Image.open(s.metainfo['seg_map_path'])).astype(np.int64)
    assert (s.gt_train_sem_seg.data[0].numpy() == mask).all() and mask.max() > 0
    assert (s.gt_sem_seg.data == 255).all()
    assert s.gt_image_labels.sum() >= 2  # background and at least one object


def test_iou_metric_counts_only_the_val_images(demo_data):
    """IoUMetric over the whole wrapper (training images predicted badly) gives
    the val set's own figures."""
    val, train = parts(demo_data)
    ds = WSSSValDataset(val, train, num_train=6)

    def miou(samples):
        metric = IoUMetric()
        metric.dataset_meta = ds.metainfo
        metric.process({}, samples)
        return metric.compute_metrics(metric.results)

    samples = []
    for i in range(len(ds)):
        s = ds[i]['data_samples']
        truth = s.gt_sem_seg.data
        pred = (truth % 3) if i < 4 else torch.full_like(truth, 2)  # some errors on val
        samples.append(dict(s.to_dict(), pred_sem_seg=dict(data=pred)))
    assert miou(samples) == miou(samples[:4])


def test_training_images_without_masks_are_refused(demo_data):
    val, train = parts(demo_data)
    train['pipeline'] = [p for p in train['pipeline'] if p['type'] != 'LoadAnnotations']
    ds = WSSSValDataset(val, train, num_train=1)
    with pytest.raises(ValueError, match='train_00000.jpg.*need masks'):
        ds[4]


def test_the_training_part_takes_what_it_does_not_name_from_val(demo_data):
    """The config's base gives the training part only its list and tag file;
    type, root, classes and folders come from val, the pipeline loads tags
    and masks; keys it names win."""
    val = dict(type='WeakSegDataset', data_root=demo_data,
               metainfo=dict(classes=('background', 'disc', 'square', 'triangle')),
               data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
               ann_file='ImageSets/Segmentation/val.txt', pipeline=[], indices=2)
    part = WSSSValDataset.train_part(val, dict(ann_file='ImageSets/Segmentation/train.txt',
                                               labels_file='cls_labels.json'), num_train=3)
    assert part == dict(val, ann_file='ImageSets/Segmentation/train.txt',
                        labels_file='cls_labels.json', indices=3, pipeline=[
                            dict(type='LoadImageFromFile'), dict(type='LoadImageLevelLabels'),
                            dict(type='LoadAnnotations'), dict(type='PackWeakSegInputs')])
    own = WSSSValDataset.train_part(val, dict(ann_file='a.txt', pipeline=['p'], type='X'), None)
    assert (own['pipeline'], own['type'], 'indices' in own) == (['p'], 'X', False)
    ds = WSSSValDataset(val=dict(val, indices=None), num_train=3,
                        train=dict(ann_file='ImageSets/Segmentation/train.txt',
                                   labels_file='cls_labels.json'))
    sample = ds[len(ds) - 1]['data_samples']
    assert len(ds) == 4 + 3 and sample.metainfo['wsss_role'] == 'train'
    assert 'gt_image_labels' in sample and 'gt_train_sem_seg' in sample
