# APC on ViT-B/16 (docs/method.md). Backbone levels 4, 6, 8, 12 feed the decode
# head; the last one is refined by the HV-BiLSTM neck into Z.
norm_cfg = dict(type='GN', num_groups=32, requires_grad=True)  # batch-independent: same under DDP
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[127.5, 127.5, 127.5],
    std=[127.5, 127.5, 127.5],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=(384, 384))
model = dict(
    type='APCSegmentor',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='mmpretrain.VisionTransformer',
        arch='b',
        img_size=384,
        patch_size=16,
        out_indices=(3, 5, 7, 11),
        out_type='featmap',
        with_cls_token=True,
        final_norm=True,
        interpolate_mode='bicubic',
        # Blocks 1-7, patch and position embeddings never train; blocks 8-12
        # are held at lr 0 by UnfreezeStepLR during the warm-up.
        frozen_stages=7,
        init_cfg=dict(type='Pretrained',
                      checkpoint='pretrain/vit-b16-384_in21k-ft-in1k_mmpretrain.pth')),
    neck=dict(type='HVBiLSTM', in_channels=768, hidden_channels=None, dropout=0.2, in_index=-1),
    weak_head=dict(
        type='AKPHead',
        in_channels=768,
        num_classes=21,
        dropout=0.2,
        pooling=dict(type='AdaptiveKPooling', k_max=6, delta=0.2, criterion='gap'),
        loss_weight=1.0,
        # Classifier start and penalty: measured in docs/history/crf_unary_and_classifier.md.
        l2_weight=0.0,
        init_cfg=dict(type='Normal', layer='Conv2d', std=0.01)),
    pcl_loss=dict(type='PatchContrastLoss', theta=0.85, tau=0.1, n_low=None, loss_weight=0.02),
    decode_head=dict(
        type='SegformerHead',
        in_channels=[768, 768, 768, 768],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                         loss_weight=0.01, loss_name='loss_seg')),
    train_cfg=dict(),
    # DenseCRF is post-processing, outside the model: CRFIoUMetric,
    # make_pseudo_masks.py --crf, infer.py --crf (docs/evaluation.md).
    test_cfg=dict(mode='whole', output='decode', size=(960, 960), scales=(1.0,),
                  flip=False, use_gt_labels=True))
