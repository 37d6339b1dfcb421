# Table 6 ablation: fixed top-K pooling (K = k_max of AKP).
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(pooling=dict(_delete_=True, type='FixedKPooling', k=6)))
