"""Leaving a process group cleanly, and TF32 for CUDA training: what the
tools call around a run (the config edits APCRunner makes before building one
are in ``apc_mmseg.engine.runner_config``)."""
import gc

import torch
import torch.distributed as dist


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
