import random
from typing import List, Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import CheckpointHook, Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep every rank's random states in checkpoints, so a resumed run
    draws the same dropout masks as an uninterrupted one.

    mmengine restores the weights, optimiser, schedulers and iteration, and
    reseeds the data workers identically, but not the generators of the
    training processes. Each rank's torch CPU state, the state of its own CUDA
    device (when it uses one), numpy's and Python's go into the checkpoint,
    one entry per rank (``rng_state['ranks']``). mmengine writes checkpoints on
    rank 0 alone (``Runner.save_checkpoint`` runs there only), so the ranks
    pool their states one step earlier: in ``after_train_iter`` of an
    iteration at which the ``CheckpointHook`` will save (this hook runs before
    it; nothing draws in between), and when a validation starts (the best
    checkpoint is saved after it). Pooled states stand until the next training
    iteration begins; a checkpoint saved with none standing holds rank 0's
    states only.

    Validation leaves the training streams as it found them: creating the
    validation loader's iterator draws its workers' base seed from torch's
    CPU generator (at every validation, or the first with persistent
    workers), which the checkpoint saved before it does not hold. Every
    generator is saved when a validation starts and restored when it ends
    (``after_val_epoch``, before the ``CheckpointHook`` saves the best
    checkpoint), so a run resumed from a checkpoint draws what the
    uninterrupted run draws, with validation in between or not.

    On resume rank r takes entry r. With another number of processes, ranks
    without an entry keep this run's seeding and entries without a rank are
    unused; the log says which. Exact resumption also needs
    ``num_workers >= 1`` (with 0, the skipped batches' augmentations draw from
    the main process's generators).

    States are stored as numpy arrays, not tensors: mmengine loads a
    checkpoint with ``map_location`` set to the training device, which would
    move tensors to CUDA, where ``torch.set_rng_state`` refuses them. States
    saved as tensors, or in the one-entry layout of older checkpoints
    (``rng_state['torch']``, rank 0's, with every device's CUDA state), are
    read too.
    """

    priority = 'LOW'  # before the CheckpointHook (VERY_LOW)

    def __init__(self):
        self._pending = None
        self._pooled = None  # every rank's states, while no training step has drawn since
        self._before_val = None  # this rank's states when the validation began

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._pooled = None  # the streams move on from here

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        self._pool_if_saving(runner, by_epoch=False)

    def after_train_epoch(self, runner) -> None:
        self._pool_if_saving(runner, by_epoch=True)

    def _pool_if_saving(self, runner, by_epoch: bool) -> None:
        # Every rank decides alike (the CheckpointHook's own rule), so every
        # rank joins the collective.
        if any(checkpoint_due(hook, runner, by_epoch) for hook in runner.hooks
               if isinstance(hook, CheckpointHook)):
            self._pooled = all_gather_object(own_state())

    def before_val_epoch(self, runner) -> None:
        # Every rank validates, so every rank joins the collective.
        self._before_val = own_state()
        if self._pooled is None:
            self._pooled = all_gather_object(self._before_val)

    def after_val_epoch(self, runner, metrics=None) -> None:
        if self._before_val is not None:
            restore_state(self._before_val)
            self._before_val = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint['rng_state'] = dict(ranks=self._pooled or [own_state()])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        # Only a resumed run (iteration > 0) continues the old sequence;
        # `load_from` starts a new run from its own seed.
        saved, self._pending = self._pending, None
        if saved is None or runner.iter == 0:
            return
        ranks = saved['ranks'] if 'ranks' in saved else [legacy_entry(saved)]
        rank, world = get_rank(), get_world_size()
        if rank < len(ranks):
            restore_state(ranks[rank])
        if len(ranks) != world:
            kept = min(len(ranks), world)
            print_log(
                f'random states: the checkpoint has {len(ranks)} rank(s), this run '
                f'{world}; ranks 0-{kept - 1} continue their saved streams, '
                + (f'ranks {kept}-{world - 1} keep this run\'s seeding'
                   if world > kept else
                   f'the saved streams of ranks {kept}-{len(ranks) - 1} are unused'),
                logger='current', level=30)


def checkpoint_due(hook: CheckpointHook, runner, by_epoch: bool) -> bool:
    """Whether ``hook`` saves in this ``after_train_iter`` (``by_epoch``
    False) or ``after_train_epoch`` (True): its own rule, mmengine 0.10."""
    if hook.by_epoch != by_epoch:
        return False
    if by_epoch:
        return bool(hook.every_n_epochs(runner, hook.interval, hook.save_begin) or
                    (hook.save_last and hook.is_last_train_epoch(runner)))
    return bool(hook.every_n_train_iters(runner, hook.interval, hook.save_begin) or
                (hook.save_last and hook.is_last_train_iter(runner)))


def own_state() -> dict:
    """This process's generator states (CPU arrays and Python objects)."""
    state = dict(torch=torch.get_rng_state().numpy(), numpy=np.random.get_state(),
                 python=random.getstate())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state().numpy()  # this rank's device
    return state


def restore_state(state: dict) -> None:
    torch.set_rng_state(as_cpu_bytes(state['torch']))
    np.random.set_state(state['numpy'])
    random.setstate(state['python'])
    if state.get('cuda') is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(as_cpu_bytes(state['cuda']))


def legacy_entry(saved: dict) -> dict:
    """Rank 0's entry from the one-entry layout, whose ``cuda`` held the
    states of every visible device: this device's, if there is one."""
    entry = {k: saved[k] for k in ('torch', 'numpy', 'python')}
    cuda: Optional[List] = saved.get('cuda')
    if cuda and torch.cuda.is_available():
        index = torch.cuda.current_device()
        entry['cuda'] = cuda[index] if index < len(cuda) else None
    return entry


def as_cpu_bytes(state) -> torch.Tensor:
    """A generator state (numpy array, or tensor on any device) as the CPU
    ``ByteTensor`` that ``set_rng_state`` takes."""
    if isinstance(state, torch.Tensor):
        return state.detach().to('cpu', torch.uint8)
    return torch.from_numpy(np.ascontiguousarray(state, dtype=np.uint8))
