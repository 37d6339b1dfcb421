# Eq. 7, reading C: w_cls 0.9 and the two legible weights the other way round
# (w_pcl 0.01, w_seg 0.02). docs/method.md, "Eq. 7 read again".
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(loss_weight=0.9), pcl_loss=dict(loss_weight=0.01),
             decode_head=dict(loss_decode=dict(loss_weight=0.02)))
