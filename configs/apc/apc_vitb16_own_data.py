# APC on your own tagged images, without code. Lay the data out as
#   data/my_data/images/<id>.jpg          the images
#   data/my_data/train.txt, val.txt        one image id per line
#   data/my_data/labels.json               {"<id>": ["cat", "dog"], ...} (tags only)
#   data/my_data/masks/<id>.png            optional, val only: to report mIoU
# and list your classes below, background first.
_base_ = './apc_vitb16_voc.py'
classes = ('background', 'cat', 'dog', 'bird')
num_classes = len(classes)
metainfo = dict(classes=classes)
data_root = 'data/my_data'
model = dict(weak_head=dict(num_classes=num_classes),
             decode_head=dict(num_classes=num_classes))
train_dataloader = dict(dataset=dict(
    type='WeakSegDataset', data_root=data_root, metainfo=metainfo,
    data_prefix=dict(img_path='images'), ann_file='train.txt', labels_file='labels.json'))
val_dataloader = dict(dataset=dict(
    _delete_=True,  # plain validation (no WSSSValDataset: your masks are for val only)
    type='WeakSegDataset', data_root=data_root, metainfo=metainfo,
    data_prefix=dict(img_path='images', seg_map_path='masks'), ann_file='val.txt',
    pipeline={{_base_.test_pipeline}}))
test_dataloader = val_dataloader
val_evaluator = dict(_delete_=True, type='IoUMetric', iou_metrics=['mIoU'])
# Warm-up length in iterations: 2 epochs of your training set at batch 16.
param_scheduler = [dict(type='UnfreezeStepLR', milestone=1000, gamma=0.1, by_epoch=False)]
