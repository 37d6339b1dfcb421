# Table 6 ablation: global max pooling (K = 1, as ViT-PCM).
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(pooling=dict(_delete_=True, type='GlobalMaxPooling')))
