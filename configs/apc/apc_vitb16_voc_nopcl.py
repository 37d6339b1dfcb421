# Table 7 ablation: AKP without patch contrast (loss_pcl is logged as 0).
_base_ = './apc_vitb16_voc.py'
model = dict(pcl_loss=None)
