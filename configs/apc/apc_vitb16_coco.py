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
# A GPU host's loaders: 8 workers a process for training (~8 ms of CPU an image:
# 16 images a step need ~130 ms of CPU, more than a ~35 ms step on one core;
# APCRunner lowers them to the cores each process has), pinned memory so the
# copies to the GPU overlap the step; torch's prefetch of 2 batches a worker.
train_dataloader = dict(num_workers=8, pin_memory=True)
val_dataloader = dict(pin_memory=True)
test_dataloader = dict(pin_memory=True)
