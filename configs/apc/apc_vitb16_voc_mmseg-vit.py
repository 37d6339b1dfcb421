# The paper's recipe with mmseg's own VisionTransformer instead of mmpretrain's
# (same ViT-B/16; convert weights with
# `tools/model_converters/convert_vit_weights.py --target mmseg`).
# mmpretrain's fused attention is faster (BENCHMARKS.md); this config is for
# users who keep mmseg's ViT. Blocks 1-7, the embeddings and the final norm never
# train (mmseg's frozen_exclude matches names by substring, so the final norm
# `ln1` cannot be told apart from the blocks' `ln1` and stays frozen); blocks
# 8-12 are held at lr 0 during the warm-up as in apc_vitb16_voc.py.
_base_ = './apc_vitb16_voc.py'
model = dict(
    backbone=dict(
        _delete_=True,
        type='VisionTransformer',
        img_size=(384, 384),
        patch_size=16,
        embed_dims=768,
        num_layers=12,
        num_heads=12,
        mlp_ratio=4,
        out_indices=(3, 5, 7, 11),
        qkv_bias=True,
        with_cls_token=True,
        output_cls_token=False,
        norm_cfg=dict(type='LN', eps=1e-6),
        patch_bias=True,
        final_norm=True,
        interpolate_mode='bicubic',
        frozen_exclude=[f'layers.{i}.' for i in range(7, 12)],
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/vit-b16-384_in21k-ft-in1k_mmseg.pth')))
