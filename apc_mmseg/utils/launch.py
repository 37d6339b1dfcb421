"""Distributed launch on machines with or without CUDA."""
import gc
import os

import torch
import torch.distributed as dist

from .malloc import keep_freed_memory


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


def finish_distributed(runner=None) -> None:
    """Leave the process group so that none of its threads outlives it.

    ``destroy_process_group`` only forgets the group: its gloo backend, and
    the worker threads that own the last collectives' work objects, live as
    long as something still references the group, such as the DDP wrapper of
    the runner's model (its reducer holds it). Those threads then release the
    works' tensors during interpreter shutdown; a thread that needs the GIL
    then is stopped by Python inside a C++ destructor, and the rank aborts
    after a finished run ('terminate called without an active exception',
    SIGABRT). So the wrapper is dropped and collected first: destroying the
    last reference joins the worker threads while the interpreter is alive.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return
    if runner is not None:
        runner.model = None  # the DDP wrapper; its reducer references the group
    gc.collect()  # DDP's hooks form reference cycles
    dist.barrier()
    dist.destroy_process_group()


def allow_tf32() -> bool:
    """Let CUDA run float32 matmuls and convolutions on TF32 tensor cores.

    Sets torch's process-wide TF32 switches, as mmseg users
    expect from a GPU training tool; the tools call it, importing the package
    does not. Returns whether CUDA is there to use it.
    """
    if not torch.cuda.is_available():
        return False
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return True


def run_stage(cfg, launcher: str, stage: str) -> dict:
    """What ``tools/train.py`` and ``tools/test.py`` do with their config: set up
    the launcher (gloo without CUDA), malloc and, for training, TF32; build
    mmengine's Runner; run ``stage`` ('train' or 'test'); leave the process
    group cleanly. Returns the test metrics (empty for training)."""
    from mmengine.runner import Runner
    prepare_distributed(cfg, launcher)
    keep_freed_memory()
    if stage == 'train':
        allow_tf32()
    runner = Runner.from_cfg(cfg)
    result = getattr(runner, stage)()
    finish_distributed(runner)
    return result if isinstance(result, dict) else {}
