# Eq. 7, reading D: L_cls takes 0.02 and L_seg 0.01, the third weight (w_pcl)
# is 0.9. docs/method.md, "Eq. 7 read again".
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(loss_weight=0.02), pcl_loss=dict(loss_weight=0.9))
