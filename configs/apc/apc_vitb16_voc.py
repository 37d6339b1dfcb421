# APC, ViT-B/16, PASCAL VOC 2012 (the paper's recipe, docs/method.md).
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/weak_voc12.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_10k.py'
]
# Validation (the base's WSSSValDataset) also judges the pseudo masks and the
# image classifier (WSSSMetric, docs/evaluation.md).
# A GPU host's loaders: 8 workers a process for training (~8 ms of CPU an image:
# 16 images a step need ~130 ms of CPU, more than a ~35 ms step on one core;
# APCRunner lowers them to the cores each process has), pinned memory so the
# copies to the GPU overlap the step; torch's prefetch of 2 batches a worker.
train_dataloader = dict(num_workers=8, pin_memory=True)
val_dataloader = dict(pin_memory=True)
test_dataloader = dict(pin_memory=True)
