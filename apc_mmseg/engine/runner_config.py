"""The edits APCRunner makes to a config before mmengine builds the run:
launching on machines with or without CUDA, the global batch shared by the
processes, loader workers fitted to the cores."""
import logging
import os

import torch
import torch.distributed as dist
from mmengine.logging import print_log


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


def launcher_world_size(launcher: str) -> int:
    """The number of training processes the launcher starts (before the
    process group exists): torchrun's ``WORLD_SIZE``, Slurm's ``SLURM_NTASKS``,
    Open MPI's ``OMPI_COMM_WORLD_SIZE``; 1 without a launcher."""
    if launcher == 'none':
        return 1
    key = dict(slurm='SLURM_NTASKS', mpi='OMPI_COMM_WORLD_SIZE').get(launcher, 'WORLD_SIZE')
    return int(os.environ.get(key, os.environ.get('WORLD_SIZE', 1)))


def split_global_batch(cfg, world_size: int) -> None:
    """Set ``train_dataloader.batch_size`` to ``global_batch_size / world_size``.

    APC's schedules count iterations of ``global_batch_size`` images (16, the
    paper's), so the warm-up and the run mean the same epochs on 1, 2 or 8
    GPUs. A config without ``global_batch_size`` (None) keeps mmseg's
    per-process ``batch_size``. The per-process value is replaced; a warning
    says so when it was neither the split nor ``global_batch_size`` itself
    (the value a config written for one process carries), i.e. when someone
    asked for another per-process batch.
    """
    total = cfg.get('global_batch_size', None)
    if total is None:
        return
    if total % world_size:
        raise ValueError(
            f'global_batch_size={total} does not split evenly over {world_size} processes: '
            'use a process count that divides it, or set global_batch_size (and the '
            'schedule) for your GPUs, or global_batch_size=None and a per-process '
            'train_dataloader.batch_size')
    per_process = total // world_size
    given = cfg.train_dataloader.get('batch_size')
    if given not in (None, per_process, total):
        print_log(f'train_dataloader.batch_size={given} replaced by {per_process}: '
                  f'global_batch_size={total} over {world_size} process(es); set '
                  'global_batch_size=None to choose the per-process batch yourself',
                  logger='current', level=logging.WARNING)
    cfg.train_dataloader.batch_size = per_process
    print_log(f'training batch: {total} images a step = {world_size} process(es) x '
              f'{per_process}', logger='current')


def fit_loader_workers(cfg, launcher: str) -> None:
    """Lower each data loader's ``num_workers`` to the cores that one of this
    machine's training processes has (the usable cores over torchrun's
    ``LOCAL_WORLD_SIZE``), logging each change.

    The VOC and COCO configs ask for 8 training workers, sized for a GPU
    host; on a smaller machine more workers than cores only contend. The
    workers' random streams depend on their number (mmengine seeds worker
    ``i`` of rank ``r`` with ``seed + r * num_workers + i``), so a lowered
    count is said in the log.
    """
    local = int(os.environ.get('LOCAL_WORLD_SIZE', 1)) if launcher != 'none' else 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') \
        else (os.cpu_count() or 1)
    share = max(1, cores // max(local, 1))
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(name)
        if loader and (loader.get('num_workers') or 0) > share:
            print_log(f'{name}.num_workers {loader.num_workers} -> {share}: {cores} usable '
                      f'cores for {local} process(es) on this machine', logger='current',
                      level=logging.WARNING)
            loader.num_workers = share
