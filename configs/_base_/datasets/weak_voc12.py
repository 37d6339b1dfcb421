# PASCAL VOC 2012 + SBD: train_aug with image-level labels only, val with masks.
dataset_type = 'WeakVOCDataset'
data_root = 'data/VOCdevkit/VOC2012'
crop_size = (384, 384)
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackWeakSegInputs'),
]
# The model resizes to its test_cfg.size (960x960) and back by itself.
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackWeakSegInputs'),
]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(type='TestTimeAug', transforms=[
        [dict(type='RandomFlip', prob=0., direction='horizontal'),
         dict(type='RandomFlip', prob=1., direction='horizontal')],
        [dict(type='LoadAnnotations')],
        [dict(type='PackWeakSegInputs')],
    ]),
]
train_dataloader = dict(
    batch_size=16,  # one process; APCRunner sets global_batch_size / processes
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages'),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        labels_file='cls_labels.json',
        pipeline=train_pipeline))
val_set = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
    ann_file='ImageSets/Segmentation/val.txt',
    pipeline=test_pipeline)
# Validation also judges the weak supervision (WSSSMetric, docs/evaluation.md):
# the pseudo masks of the first 500 of the 1,464 train images that VOC gives
# masks for (the paper's Table 2 protocol, without CRF), and the image
# classifier's F1 / mAP on val. mIoU stays the decode head's on val. The
# training part takes all but its list and tag file from `val`.
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type='WSSSValDataset',
        val=val_set,
        train=dict(ann_file='ImageSets/Segmentation/train.txt', labels_file='cls_labels.json'),
        num_train=500))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=val_set)
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='WSSSMetric')]
test_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
