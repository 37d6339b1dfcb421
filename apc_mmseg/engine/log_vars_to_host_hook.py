from typing import Optional

import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class LogVarsToHostHook(Hook):
    """Read a training step's logged values from the device in one transfer.

    ``train_step`` returns its log variables (``loss``, ``loss_cls``, ...,
    ``acc_seg``) as 0-d device tensors, and mmengine's ``RuntimeInfoHook``
    turns each into a float with ``.item()``: one host sync per value, five a
    step for APC. This hook runs first (``HIGHEST``) and replaces them, in
    the same dict, by the floats of one stacked ``tolist()``: one sync.
    """

    priority = 'HIGHEST'  # before RuntimeInfoHook (VERY_HIGH)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        keys = [k for k, v in outputs.items() if torch.is_tensor(v) and v.numel() == 1]
        if not keys:
            return
        values = torch.stack([outputs[k].detach().float().reshape(()) for k in keys]).tolist()
        outputs.update(zip(keys, values))
