# Stage 2, the classic two-stage pipeline (APC Table 5 compares against it):
# mmseg's own DeepLabV3+ R101 trained on APC's pseudo masks of train_aug.
# Write them first, into the VOC folder:
#   python tools/make_pseudo_masks.py configs/apc/apc_vitb16_voc.py CKPT --crf --workers 8 \
#       --out-dir data/VOCdevkit/VOC2012/PseudoMasksAPC
# Nothing is downloaded: point the backbone at an ImageNet ResNet-101 (V1c) you have.
_base_ = ['mmseg::deeplabv3plus/deeplabv3plus_r101-d8_4xb4-40k_voc12aug-512x512.py']
custom_imports = dict(imports=['apc_mmseg'], allow_failed_imports=False)
default_scope = 'mmseg'
# Checkpoints as data: they load weights-only (apc_mmseg.utils.checkpoint).
custom_hooks = [dict(type='CheckpointAsDataHook')]
data_root = 'data/VOCdevkit/VOC2012'
model = dict(
    pretrained=None,
    backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='pretrain/resnet101_v1c.pth')))
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='PascalVOCDataset',
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages', seg_map_path='PseudoMasksAPC'),
        ann_file='ImageSets/Segmentation/train_aug.txt',
        pipeline={{_base_.train_pipeline}}))
