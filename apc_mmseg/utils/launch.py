"""Distributed launch on machines with or without CUDA."""
import os

import torch
import torch.distributed as dist


def prepare_distributed(cfg, launcher: str) -> None:
    """Make mmengine's launchers work on CPU-only machines too.

    mmengine's ``pytorch`` launcher calls ``torch.cuda.set_device`` and wraps
    the model with ``device_ids=[LOCAL_RANK]``. Without CUDA, the process
    group is initialised here with gloo (mmengine then skips its own
    initialisation), DDP gets ``device_ids=None``, and the cores are shared
    between the local processes.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    cfg.env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    if launcher == 'pytorch' and not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    local = int(os.environ.get('LOCAL_WORLD_SIZE', os.environ.get('WORLD_SIZE', 1)))
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // max(local, 1)))


def finish_distributed() -> None:
    """Leave together: a rank that exits while its peers' gloo connections are
    still open can be aborted (SIGABRT) on the way out."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
