# APC, ViT-B/16, PASCAL VOC 2012 (the paper's recipe, docs/method.md).
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/weak_voc12.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_10k.py'
]
# Validation also judges the weak supervision (WSSSMetric, docs/evaluation.md):
# the pseudo masks of the first 500 of the 1,464 train images that VOC gives
# masks for (the paper's Table 2 protocol, without CRF), and the image
# classifier's F1 / mAP on val. mIoU stays the decode head's on val.
val_dataloader = dict(dataset=dict(
    _delete_=True,
    type='WSSSValDataset',
    val={{_base_.val_dataloader.dataset}},
    train=dict(
        type='WeakVOCDataset',
        data_root='data/VOCdevkit/VOC2012',
        data_prefix=dict(img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        labels_file='cls_labels.json',
        pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadImageLevelLabels'),
                  dict(type='LoadAnnotations'), dict(type='PackWeakSegInputs')]),
    num_train=500))
val_evaluator = [dict(type='IoUMetric', iou_metrics=['mIoU']), dict(type='WSSSMetric')]
