# Table 6 ablation: global average pooling.
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(pooling=dict(_delete_=True, type='GlobalAvgPooling')))
