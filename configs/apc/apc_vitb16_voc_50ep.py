# The paper's maximum schedule: 50 epochs of VOC train_aug (661 steps of 16
# images an epoch) instead of the default 15 (the paper's convergence remark).
_base_ = './apc_vitb16_voc.py'
train_cfg = dict(max_iters=33070, val_interval=1000)
