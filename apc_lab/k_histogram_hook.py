"""How often Adaptive-K pooling chose each K during training, for the tagged
classes of each training image: does the adaptive rule ever stop short of
``k_max``? Lab only (it reads the chosen K on the host every iteration)."""
import json
import os.path as osp

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module()
class KHistogramHook(Hook):
    """Counts K per (image, tagged foreground class) over training and writes
    ``<work_dir>/k_histogram.json``: ``counts[k - 1]`` for k = 1..k_max. Does
    nothing for a pooling without ``select_k`` on its own K (global max)."""

    def before_train(self, runner) -> None:
        model = runner.model.module if hasattr(runner.model, 'module') else runner.model
        pooling = model.weak_head.pooling
        self.k_max = getattr(pooling, 'k_max', None)
        self.counts = torch.zeros(self.k_max or 0, dtype=torch.long)
        self.labels = None
        self.adaptive = type(pooling).__name__ == 'AdaptiveKPooling'
        if self.adaptive:
            pooling.register_forward_hook(self._count)

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.labels = torch.stack([s.gt_image_labels for s in data_batch['data_samples']])

    def _count(self, pooling, inputs, output) -> None:
        if not pooling.training or self.labels is None:
            return
        k = pooling.select_k(inputs[0].detach()).cpu()  # [B, C+1]
        tagged = self.labels[:, 1:].bool()  # foreground tags (background always is)
        self.counts += torch.bincount(k[:, 1:][tagged] - 1, minlength=self.k_max)

    def after_train(self, runner) -> None:
        if not self.adaptive:
            return
        with open(osp.join(runner.work_dir, 'k_histogram.json'), 'w') as f:
            json.dump(dict(k_max=self.k_max, counts=self.counts.tolist()), f)
