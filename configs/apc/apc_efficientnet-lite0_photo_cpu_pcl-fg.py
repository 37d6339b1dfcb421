# The photo demo with the patch contrast over the tagged foreground classes
# only: the background channel, tagged on every image, gets none (the
# pre-registered comparison in docs/ablations.md). The loss is lab code,
# imported by this config alone.
_base_ = ['./apc_efficientnet-lite0_photo_cpu.py']
custom_imports = dict(imports=['apc_mmseg', 'apc_lab.foreground_patch_contrast_loss'],
                      allow_failed_imports=False)
model = dict(pcl_loss=dict(type='ForegroundPatchContrastLoss'))
