# Table 6 ablation: fixed top-K pooling, K = the base's AKP k_max (read from
# it, so editing k_max keeps the comparison at the same K).
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(pooling=dict(
    _delete_=True, type='FixedKPooling', k={{_base_.model.weak_head.pooling.k_max}})))
