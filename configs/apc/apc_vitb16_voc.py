# APC, ViT-B/16, PASCAL VOC 2012 (the paper's recipe, docs/method.md).
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/weak_voc12.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_10k.py'
]
# Validation (the base's WSSSValDataset) also judges the pseudo masks and the
# image classifier (WSSSMetric, docs/evaluation.md).
