# `make gpu-check` (tools/analysis_tools/gpu_check.py): the paper's VOC config on
# the set `make_demo_data.py --out work_dirs/gpu_check/data` writes (4 classes, VOC
# layout), from random init, a 100-iteration warm-up, at 384. The datasets are
# WeakSegDataset (VOC's own type accepts VOC's class names only). The tool sets
# `data_root` of the four datasets when its --work-dir is another.
_base_ = '../apc/apc_vitb16_voc.py'
data_root = 'work_dirs/gpu_check/data'
metainfo = dict(classes=('background', 'disc', 'square', 'triangle'))
data = dict(type='WeakSegDataset', data_root=data_root, metainfo=metainfo)
train_dataloader = dict(dataset=dict(ann_file='ImageSets/Segmentation/train.txt', **data))
val_dataloader = dict(dataset=dict(val=data, train=data))
test_dataloader = dict(dataset=data)
model = dict(
    backbone=dict(init_cfg=None),
    weak_head=dict(num_classes=4),
    decode_head=dict(num_classes=4),
    test_cfg=dict(size=(384, 384)))
param_scheduler = [dict(type='UnfreezeStepLR', milestone=100, gamma=0.1, by_epoch=False)]
default_hooks = dict(logger=dict(interval=10))
randomness = dict(seed=0)
