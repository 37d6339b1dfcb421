# APC, ViT-B/16, COCO 2014 (80 classes + background). 82,081 train images at
# batch 16: 5,130 iterations an epoch; warm-up of 2 epochs, ~8 epochs in all.
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/weak_coco14.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_10k.py'
]
model = dict(weak_head=dict(num_classes=81), decode_head=dict(num_classes=81))
param_scheduler = [dict(type='UnfreezeStepLR', milestone=10260, gamma=0.1, by_epoch=False)]
train_cfg = dict(max_iters=40000, val_interval=5000)
default_hooks = dict(checkpoint=dict(interval=5000))
