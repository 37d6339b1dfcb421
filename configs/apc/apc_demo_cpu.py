# The shape sets' demo: a small ViT with the APC neck and heads, fine-tuned on CPU
# from image tags on the data of tools/dataset_converters/make_demo_data.py (VOC
# layout, 3 classes). The ViT starts from the shipped checkpoint pretrained from
# the image tags of a generated world that shares nothing with the demo sets
# (tools/pretrain_demo_vit.py, docs/pretrained_demo.md), loaded as the VOC config
# loads a converted ViT-B/16; `tools/demo.py --from-scratch` skips it.
_base_ = [
    '../_base_/models/apc_vit-b16.py', '../_base_/datasets/weak_voc12.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_apc_10k.py'
]
crop_size = (96, 96)
metainfo = dict(classes=('background', 'disc', 'square', 'triangle'),
                palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]])
data_root = 'data/demo'
norm_cfg = dict(type='GN', num_groups=16, requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=4, num_heads=3,
                  feedforward_channels=192),
        img_size=crop_size[0], patch_size=8, out_indices=(0, 1, 2, 3),
        frozen_stages=-1,
        # from the repository root, as the other configs' pretrain/ files
        init_cfg=dict(type='Pretrained', checkpoint='apc_lab/pretrained/demo_vit_tags.pth')),
    neck=dict(in_channels=96),
    weak_head=dict(in_channels=96, num_classes=4),
    decode_head=dict(in_channels=[96] * 4, channels=64, num_classes=4,
                     norm_cfg=norm_cfg),
    test_cfg=dict(size=crop_size))

train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWeakSegInputs'),
]
global_batch_size = 8  # images a step, shared by the processes
train_dataloader = dict(
    batch_size=8, num_workers=1, persistent_workers=True,
    dataset=dict(type='WeakSegDataset', data_root=data_root, metainfo=metainfo,
                 ann_file='ImageSets/Segmentation/train.txt',
                 pipeline=train_pipeline))
# Validation (the base's WSSSValDataset) also judges the weak supervision
# (WSSSMetric): the pseudo masks of 100 training images, and the image
# classifier on val.
data = dict(type='WeakSegDataset', data_root=data_root, metainfo=metainfo)
val_dataloader = dict(num_workers=1, dataset=dict(val=data, num_train=100))
test_dataloader = dict(num_workers=1, dataset=data)

# The ViT held while the neck and heads warm up (400 of 3000 iterations, as the
# paper's 2 of 15 epochs), then everything trains at lr 1e-3: on this set the
# paper's lower second-stage rate measured worse (docs/history/pretrained_demo_masks.md).
optim_wrapper = dict(optimizer=dict(lr=1e-3))
param_scheduler = [dict(type='UnfreezeStepLR', milestone=400, gamma=1.0, by_epoch=False)]
train_cfg = dict(max_iters=3000, val_interval=1000)
default_hooks = dict(logger=dict(interval=100),
                     checkpoint=dict(interval=1000, save_best='pseudo_mIoU', rule='greater'))
randomness = dict(seed=0)
