# COCO 2014 (80 things + background) with image-level labels; label PNGs and
# splits written by tools/dataset_converters/prepare_coco.py.
_base_ = './weak_voc12.py'
dataset_type = 'WeakCOCODataset'
data_root = 'data/coco2014'
train_dataloader = dict(
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='train2014'),
        ann_file='train.txt',
        labels_file='cls_labels.json'))
coco_val = dict(
    type=dataset_type,
    data_root=data_root,
    data_prefix=dict(img_path='val2014', seg_map_path='SegmentationClass/val2014'),
    ann_file='val.txt',
    pipeline={{_base_.test_pipeline}})
# Plain validation: mIoU on val (no WSSSMetric part).
val_dataloader = dict(dataset=dict(_delete_=True, **coco_val))
test_dataloader = dict(dataset=dict(_delete_=True, **coco_val))
val_evaluator = dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU'])
