from typing import List

import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MergedGroupsOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """mmengine's constructor, with parameters of equal settings in one group.

    With a ``paramwise_cfg`` (``custom_keys``, ``lr_mult``, ...) mmengine
    gives every parameter a group of its own (96 for ViT-B/16 APC), which
    defeats the batching of fused/foreach optimizers (one kernel launch per
    group on GPU). This constructor applies the same rules, then merges the
    groups whose options (lr, weight decay, ``delayed``, ...) are equal, in
    the order they first appear: APC's schedule needs two, the held backbone
    and the rest. Learning rates and every other option are unchanged.
    """

    def add_params(self, params: List[dict], module: nn.Module, prefix: str = '',
                   **kwargs) -> None:
        if prefix:  # mmengine's recursion into the children
            return super().add_params(params, module, prefix, **kwargs)
        single: List[dict] = []
        super().add_params(single, module, prefix, **kwargs)
        merged = {}
        for group in single:
            options = tuple(sorted((k, v) for k, v in group.items() if k != 'params'))
            if options not in merged:
                merged[options] = dict(group, params=[])
            merged[options]['params'].extend(group['params'])
        params.extend(merged.values())
