from typing import Dict, List, Optional

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub, print_log

from .batch_image_ids_hook import BATCH_IDS_KEY


def all_ranks_true(flags: torch.Tensor) -> List[bool]:
    """``flags [N]`` (bool) AND-ed over the ranks, as Python booleans.

    The one host sync of a training step: the all-reduce is queued on the
    device and ``tolist`` waits for it."""
    flags = flags.to(torch.int32)
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(flags, op=dist.ReduceOp.MIN)
    return [bool(f) for f in flags.tolist()]


def grads_finite(params) -> torch.Tensor:
    """Whether every gradient is finite: one fused norm over all of them, a
    0-d bool tensor on the device (no host sync)."""
    grads = [p.grad for p in params if p.grad is not None]
    if not grads:
        return torch.ones((), dtype=torch.bool)
    norms = torch._foreach_norm(grads)
    return torch.stack([n.to(norms[0].device, torch.float32) for n in norms]).isfinite().all()


class NonFiniteGuard:
    """Catch non-finite losses (and, without a loss scaler, gradients).

    A step whose loss (on any rank) or gradients are NaN/inf never updates
    the weights: with ``nonfinite='skip'`` the gradients are dropped and a
    warning names the iteration and the batch's images (recorded by
    ``BatchImageIdsHook``); with ``'stop'`` a ``FloatingPointError`` with the
    same facts ends the run. ``max_consecutive_skips`` skipped steps in a row
    also end the run: the weights have not changed since the first of them.
    Every rank takes the same decision, so DDP never hangs on it.

    The check costs one host sync a step, after the backward pass: the loss's
    finiteness (kept on the device over accumulated micro-steps) and one fused
    norm of all gradients are reduced over the ranks together. With a loss
    scaler (fp16) inf gradients are the scaler's business; only the loss is
    checked.

    A mixin placed before an mmengine wrapper; its ``__init__`` takes the two
    guard arguments and passes the rest on.
    """

    def __init__(self, *args, nonfinite: str = 'skip', max_consecutive_skips: int = 20,
                 **kwargs):
        if nonfinite not in ('skip', 'stop'):
            raise ValueError(f"nonfinite must be 'skip' or 'stop', got {nonfinite!r}")
        if max_consecutive_skips < 1:
            raise ValueError(f'max_consecutive_skips must be >= 1, got {max_consecutive_skips}')
        super().__init__(*args, **kwargs)
        self.nonfinite = nonfinite
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self.consecutive_skips = 0
        self.last_report = None
        self._loss_finite = None  # over the micro-steps of one update

    def _reject(self, what: str) -> None:
        hub = MessageHub.get_current_instance()
        it = hub.get_info('iter', None)
        ids = hub.get_info(BATCH_IDS_KEY, None)
        msg = (f'non-finite {what} at iteration {None if it is None else it + 1} '
               f'(images: {ids})')
        self.last_report = msg
        self.zero_grad()
        if self.nonfinite == 'stop':
            raise FloatingPointError(msg + "; set optim_wrapper.nonfinite='skip' to go on")
        self.skipped_steps += 1
        self.consecutive_skips += 1
        if self.consecutive_skips >= self.max_consecutive_skips:
            raise FloatingPointError(
                f'{self.consecutive_skips} consecutive training steps had non-finite values '
                f'and were skipped, so the weights stopped changing; the last: {msg}. '
                'Check the learning rate, the data and the precision (--amp).')
        print_log(msg + f'; step skipped ({self.skipped_steps} so far, '
                  f'{self.consecutive_skips} in a row)', logger='current', level=30)

    def update_params(self, loss: torch.Tensor, step_kwargs: Optional[Dict] = None,
                      zero_kwargs: Optional[Dict] = None) -> None:
        finite = torch.isfinite(loss.detach()).all()
        self._loss_finite = finite if self._loss_finite is None else self._loss_finite & finite
        self.backward(self.scale_loss(loss))
        if not self.should_update():
            return
        loss_ok = self._loss_finite
        self._loss_finite = None
        if getattr(self, 'loss_scaler', None) is None:
            params = [p for g in self.optimizer.param_groups for p in g['params']]
            grads_ok = grads_finite(params).to(loss_ok.device)
        else:
            grads_ok = torch.ones_like(loss_ok)
        loss_ok, grads_ok = all_ranks_true(torch.stack([loss_ok, grads_ok]))
        if not loss_ok:
            return self._reject('loss')
        if not grads_ok:
            return self._reject('gradients')
        self.step(**(step_kwargs or {}))
        self.zero_grad(**(zero_kwargs or {}))
        self.consecutive_skips = 0
