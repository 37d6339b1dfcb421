custom_imports = dict(imports=['apc_mmseg'], allow_failed_imports=False)
default_scope = 'mmseg'
# Every launcher (mmseg's tools/train.py, mim, ours) builds this runner: the batch
# split over processes, CPU launches, the guarded (AMP) optimizer wrapper.
runner_type = 'APCRunner'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),  # APCRunner switches to gloo without CUDA
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

tta_model = dict(type='SegTTAModel')
# Random states go into checkpoints, so --resume continues the same run; the
# batch's image ids go into non-finite-loss reports; the logged values are read
# from the GPU in one transfer a step, not one each; checkpoints are written as
# data that torch's weights-only unpickler reads; a run built without APCRunner
# (mmengine's Runner.from_cfg) says what it lacks.
custom_hooks = [dict(type='RNGStateHook'), dict(type='BatchImageIdsHook'),
                dict(type='LogVarsToHostHook'), dict(type='CheckpointAsDataHook'),
                dict(type='RunnerCheckHook')]
