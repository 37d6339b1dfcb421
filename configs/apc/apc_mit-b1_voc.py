# The APC neck and heads on mmseg's MiT-B1 (SegFormer encoder), by config alone.
# MiT levels have 64/128/320/512 channels at strides 4/8/16/32; the neck and the
# weak head work on the stride-32 level (12x12 patches at 384).
_base_ = './apc_vitb16_voc.py'
model = dict(
    data_preprocessor=dict(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375]),
    backbone=dict(
        _delete_=True,
        type='MixVisionTransformer',
        in_channels=3,
        embed_dims=64,
        num_stages=4,
        num_layers=[2, 2, 2, 2],
        num_heads=[1, 2, 5, 8],
        patch_sizes=[7, 3, 3, 3],
        sr_ratios=[8, 4, 2, 1],
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
        init_cfg=dict(type='Pretrained', checkpoint='pretrain/mit_b1_mmseg.pth')),
    neck=dict(in_channels=512),
    weak_head=dict(in_channels=512),
    decode_head=dict(in_channels=[64, 128, 320, 512]))
