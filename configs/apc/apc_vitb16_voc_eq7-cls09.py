# Eq. 7, reading B: the paper's "0.9" is the third weight, w_cls (w_pcl 0.02,
# w_seg 0.01 as the default). docs/method.md, "Eq. 7 read again", has the figures.
_base_ = './apc_vitb16_voc.py'
model = dict(weak_head=dict(loss_weight=0.9))
