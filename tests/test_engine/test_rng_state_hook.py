"""Random states saved in a checkpoint come back whatever device mmengine's
``map_location`` puts the checkpoint's tensors on."""
import random

import numpy as np
import pytest
import torch

from apc_mmseg.engine import RNGStateHook


class FakeRunner:
    iter = 7  # a resumed run


def draws():
    return torch.rand(3).tolist(), np.random.rand(), random.random()


@pytest.mark.parametrize('map_location', ['cpu', 'meta'])
def test_states_restore_after_loading_onto_another_device(tmp_path, map_location):
    """'meta' stands for a device other than the CPU: every tensor the
    checkpoint holds lands there, as on CUDA when resuming on a GPU."""
    hook = RNGStateHook()
    torch.manual_seed(3), np.random.seed(3), random.seed(3)
    checkpoint = {}
    hook.before_save_checkpoint(FakeRunner(), checkpoint)
    want = draws()
    torch.save(checkpoint, tmp_path / 'ckpt.pth')
    loaded = torch.load(tmp_path / 'ckpt.pth', map_location=map_location, weights_only=False)
    torch.manual_seed(99), np.random.seed(99), random.seed(99)
    hook.after_load_checkpoint(FakeRunner(), loaded)
    hook.before_train(FakeRunner())
    assert draws() == want


def test_tensor_states_of_older_checkpoints_on_any_device(device):
    """Checkpoints written before states were stored as arrays hold tensors;
    on a GPU resume they arrive on CUDA."""
    torch.manual_seed(5)
    state = dict(torch=torch.get_rng_state().to(device), numpy=np.random.get_state(),
                 python=random.getstate())
    want = draws()
    hook = RNGStateHook()
    hook.after_load_checkpoint(FakeRunner(), dict(rng_state=state))
    hook.before_train(FakeRunner())
    assert draws() == want
