# The APC neck and heads on mmpretrain's ConvNeXt-T, by config alone.
_base_ = './apc_vitb16_voc.py'
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='mmpretrain.ConvNeXt',
        arch='tiny',
        out_indices=(0, 1, 2, 3),
        drop_path_rate=0.1,
        gap_before_final_norm=False,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/convnext-tiny_mmpretrain.pth',
                      prefix='backbone.')),
    neck=dict(in_channels=768),
    weak_head=dict(in_channels=768),
    decode_head=dict(in_channels=[96, 192, 384, 768]))
