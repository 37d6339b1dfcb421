from typing import Dict, Optional

import torch
import torch.distributed as dist
from mmengine.logging import MessageHub, print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

from .batch_image_ids_hook import BATCH_IDS_KEY


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
    and a warning names the iteration and the batch's images (recorded by
    ``BatchImageIdsHook``); with
    ``'stop'`` a ``FloatingPointError`` with the same facts ends the run.
    ``max_consecutive_skips`` skipped steps in a row also end the run: the
    weights have not changed since the first of them, so going on would only
    log the same failure for the rest of the schedule.
    Every rank takes the same decision, so DDP never hangs on it.
    """

    def _init_guard(self, nonfinite: str, max_consecutive_skips: int):
        if nonfinite not in ('skip', 'stop'):
            raise ValueError(f"nonfinite must be 'skip' or 'stop', got {nonfinite!r}")
        if max_consecutive_skips < 1:
            raise ValueError(f'max_consecutive_skips must be >= 1, got {max_consecutive_skips}')
        self.nonfinite = nonfinite
        self.max_consecutive_skips = max_consecutive_skips
        self.skipped_steps = 0
        self.consecutive_skips = 0
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
        self.consecutive_skips += 1
        self.zero_grad()
        if self.consecutive_skips >= self.max_consecutive_skips:
            raise FloatingPointError(
                f'{self.consecutive_skips} consecutive training steps had non-finite values '
                f'and were skipped, so the weights stopped changing; the last: {msg}. '
                'Check the learning rate, the data and the precision (--amp).')
        print_log(msg + f'; step skipped ({self.skipped_steps} so far, '
                  f'{self.consecutive_skips} in a row)', logger='current', level=30)

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
            self.consecutive_skips = 0


@OPTIM_WRAPPERS.register_module()
class GuardedOptimWrapper(NonFiniteGuard, OptimWrapper):
    """mmengine's ``OptimWrapper`` with the non-finite guard."""

    def __init__(self, *args, nonfinite: str = 'skip', max_consecutive_skips: int = 20,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self._init_guard(nonfinite, max_consecutive_skips)


def resolve_amp_dtype(dtype):
    """``'auto'``: bf16 where the GPU supports it (Ampere and later), else fp16."""
    if dtype != 'auto':
        return dtype
    bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return 'bfloat16' if bf16 else 'float16'


@OPTIM_WRAPPERS.register_module()
class GuardedAmpOptimWrapper(NonFiniteGuard, AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` with the non-finite guard and AMP defaults.

    ``dtype='auto'`` picks bf16 where the GPU supports it, fp16 otherwise.
    ``loss_scale='auto'`` uses no loss scaler with bf16 (it has float32's
    exponent range, so gradients do not underflow; the guard then checks the
    gradients itself) and mmengine's dynamic scaler with fp16. Any other
    ``loss_scale`` is passed to mmengine as given.
    """

    def __init__(self, *args, nonfinite: str = 'skip', max_consecutive_skips: int = 20,
                 dtype='auto', loss_scale='auto', **kwargs):
        dtype = resolve_amp_dtype(dtype)
        scaled = loss_scale != 'auto' or dtype not in ('bfloat16', torch.bfloat16)
        super().__init__(*args, dtype=dtype,
                         loss_scale='dynamic' if loss_scale == 'auto' else loss_scale, **kwargs)
        if not scaled:
            self.loss_scaler = None
        self._init_guard(nonfinite, max_consecutive_skips)

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        if self.loss_scaler is None:
            return OptimWrapper.backward(self, loss, **kwargs)
        return super().backward(loss, **kwargs)

    def step(self, **kwargs) -> None:
        if self.loss_scaler is None:
            return OptimWrapper.step(self, **kwargs)
        return super().step(**kwargs)

    def state_dict(self) -> dict:
        if self.loss_scaler is None:
            return OptimWrapper.state_dict(self)
        return super().state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        if self.loss_scaler is None:
            state_dict.pop('loss_scaler', None)  # saved by an fp16 run
            return OptimWrapper.load_state_dict(self, state_dict)
        return super().load_state_dict(state_dict)
