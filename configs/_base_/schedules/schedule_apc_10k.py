# docs/method.md, schedule: Adam; lr 1e-3 for 2 epochs with the ViT held (neck and heads
# train), then 1e-4 for everything with the last 5 ViT blocks unfrozen.
# VOC train_aug at batch 16: 662 iterations an epoch; 10k iterations ~ 15 epochs.
# Iterations are of 16 images on any number of GPUs: APCRunner (runner_type, under
# any launcher) gives each of N processes 16 / N, so the warm-up is 2 epochs and
# the run 15 on 1, 2 or 8 GPUs. global_batch_size=None: mmseg's per-process batch.
global_batch_size = 16
# The non-finite guard: a NaN/inf loss or gradient never reaches the weights,
# 'skip' the step (logged with the iteration and image ids) or 'stop' the run.
# APCRunner puts it into the optimizer wrapper; a runner without it (mmengine's
# Runner.from_cfg) trains unguarded and RunnerCheckHook says so in the log.
nonfinite_guard = dict(nonfinite='skip')
optim_wrapper = dict(
    # mmengine's type, so that mmseg's `tools/train.py --amp` accepts it and
    # mmengine's Runner builds it.
    type='OptimWrapper',
    # fused: one kernel for all tensors (the step's Adam 2x faster on CPU).
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0, fused=True),
    # `delayed` marks the backbone's parameters for UnfreezeStepLR; parameters
    # of equal settings share a group (two groups, not one per tensor).
    constructor='MergedGroupsOptimWrapperConstructor',
    paramwise_cfg=dict(custom_keys={'backbone': dict(delayed=True)}))
param_scheduler = [dict(type='UnfreezeStepLR', milestone=1323, gamma=0.1, by_epoch=False)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=10000, val_interval=1000)
# Validation in the training precision (bf16/fp16 under --amp, else float32).
val_cfg = dict(type='TrainPrecisionValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=1000,
                    max_keep_ckpts=2, save_best='mIoU'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
