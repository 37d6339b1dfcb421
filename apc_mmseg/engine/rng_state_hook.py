import random

import numpy as np
import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Keep the main process's random states in checkpoints, so a resumed run
    draws the same dropout masks as an uninterrupted one.

    mmengine restores the weights, optimiser, schedulers and iteration, and
    reseeds the data workers identically, but not the generators of the main
    process. This hook stores torch's (CPU and CUDA), numpy's and Python's
    states at every save and puts them back when training resumes. Exact
    resumption also needs ``num_workers >= 1`` (with 0, the skipped batches'
    augmentations draw from the main process's generators).

    The generator states are stored as numpy byte arrays, not tensors: mmengine
    loads a checkpoint with ``map_location`` set to the training device, which
    would move tensors to CUDA, where ``torch.set_rng_state`` refuses them.
    States saved as tensors (older checkpoints) are brought back to the CPU.
    """

    priority = 'VERY_LOW'

    def __init__(self):
        self._pending = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(torch=torch.get_rng_state().numpy(), numpy=np.random.get_state(),
                     python=random.getstate())
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state['cuda'] = [s.numpy() for s in torch.cuda.get_rng_state_all()]
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._pending = checkpoint.get('rng_state')

    def before_train(self, runner) -> None:
        # Only a resumed run (iteration > 0) continues the old sequence;
        # `load_from` starts a new run from its own seed.
        state, self._pending = self._pending, None
        if state is None or runner.iter == 0:
            return
        torch.set_rng_state(as_cpu_bytes(state['torch']))
        np.random.set_state(state['numpy'])
        random.setstate(state['python'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([as_cpu_bytes(s) for s in state['cuda']])


def as_cpu_bytes(state) -> torch.Tensor:
    """A generator state (numpy array, or tensor on any device) as the CPU
    ``ByteTensor`` that ``set_rng_state`` takes."""
    if isinstance(state, torch.Tensor):
        return state.detach().to('cpu', torch.uint8)
    return torch.from_numpy(np.ascontiguousarray(state, dtype=np.uint8))
