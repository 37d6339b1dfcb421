# The photo demo with the patch contrast's low-confidence set read literally
# from the paper's wording ("the patch with the lowest prediction score"): the
# one lowest-scoring patch of each (image, class) instead of every patch with
# P < tau = 0.1 (the pre-registered comparison in docs/ablations.md).
_base_ = ['./apc_efficientnet-lite0_photo_cpu.py']
model = dict(pcl_loss=dict(n_low=1))
