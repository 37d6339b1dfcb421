from typing import Dict, Optional

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

BATCH_IDS_KEY = 'apc/batch_img_ids'


def _all_ranks_true(flag: torch.Tensor) -> bool:
    """True when ``flag`` holds on every rank (one host sync)."""
    flag = flag.to(torch.int32)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
    return bool(flag.item())


class NonFiniteGuard:
    """Catch non-finite losses (and, without a loss scaler, gradients).

    A step whose loss (summed over ranks) or gradients are NaN/inf never
    updates the weights: with ``nonfinite='skip'`` the gradients are dropped
    and a warning names the iteration and the batch's images; with
    ``'stop'`` a ``FloatingPointError`` with the same facts ends the run.
    Every rank takes the same decision, so DDP never hangs on it.
    """

    def _init_guard(self, nonfinite: str):
        if nonfinite not in ('skip', 'stop'):
            raise ValueError(f"nonfinite must be 'skip' or 'stop', got {nonfinite!r}")
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        self.last_report = None

    def _reject(self, what: str) -> None:
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter', None)
        ids = hub.get_info(BATCH_IDS_KEY, None)
        msg = (f'non-finite {what} at iteration {None if it is None else it + 1} '
               f'(images: {ids})')
        self.last_report = msg
        if self.nonfinite == 'stop':
            raise FloatingPointError(msg + "; set optim_wrapper.nonfinite='skip' to go on")
        self.skipped_steps += 1
        print_log(msg + f'; step skipped ({self.skipped_steps} so far)', logger='current',
                  level=30)
        self.zero_grad()

    def _grads_finite(self) -> bool:
        grads = [p.grad for g in self.optimizer.param_groups for p in g['params']
                 if p.grad is not None]
        if not grads:
            return True
        return bool(torch.stack([g.detach().float().norm() for g in grads]).isfinite().all())

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        if not _all_ranks_true(torch.isfinite(loss.detach()).all()):
            return self._reject('loss')
        loss = self.scale_loss(loss)
        self.backward(loss)
        if self.should_update():
            # With a loss scaler, inf gradients are its business (it skips
            # the step and lowers the scale).
            if getattr(self, 'loss_scaler', None) is None and not self._grads_finite():
                return self._reject('gradients')
            self.step(**(step_kwargs or {}))
            self.zero_grad(**(zero_kwargs or {}))


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(NonFiniteGuard, OptimWrapper):
    """mmengine's ``OptimWrapper`` with the non-finite guard."""

    def __init__(self, *args, nonfinite: str = 'skip', **kwargs):
        super().__init__(*args, **kwargs)
        self._init_guard(nonfinite)


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(NonFiniteGuard, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` with the non-finite guard."""

    def __init__(self, *args, nonfinite: str = 'skip', **kwargs):
        super().__init__(*args, **kwargs)
        self._init_guard(nonfinite)
