import atexit
import os
import weakref

import torch
from mmengine.logging import print_log
from mmengine.model import is_model_wrapper
from mmengine.runner import Runner
from mmseg.registry import RUNNERS

from ..utils.config_text import TextCachedConfig
from ..utils.determinism import nondeterministic_ops
from ..utils.launch import allow_tf32, finish_distributed
from ..utils.malloc import keep_freed_memory
from .amp import guard_optim_wrapper
from .runner_config import (
    fit_loader_workers,
    launcher_world_size,
    prepare_distributed,
    split_global_batch,
)


def determinism_refusal(refused) -> str:
    """The refusal's message, built from the probe's findings alone (the ops
    torch refuses change between torch releases): each refused op in the
    order the run meets it, where APC runs it and what torch said."""
    ops = '; '.join(f'({i}) {r.where} (torch: "{r.torch_says}")'
                    for i, r in enumerate(refused, 1))
    return ('randomness.deterministic=True is not supported on CUDA with torch '
            f'{torch.__version__}: in deterministic mode torch refuses {ops}. The run '
            'would stop at the first of them. Drop it (a resumed run still restores every '
            'random state), or run on CPU (CUDA_VISIBLE_DEVICES=).')


def refuse_cuda_determinism(cfg) -> None:
    """``randomness.deterministic=True`` on CUDA: torch raises at the first
    op without a deterministic CUDA kernel, mid-run. The ops an APC run meets
    are probed on this process's GPU (``nondeterministic_ops``) and the run is
    refused before anything is built, naming the ones torch would refuse."""
    if not ((cfg.get('randomness') or {}).get('deterministic') and torch.cuda.is_available()):
        return
    device = torch.device('cuda', int(os.environ.get('LOCAL_RANK', 0)))
    refused = nondeterministic_ops(device)
    if refused:
        raise ValueError(determinism_refusal(refused))


@RUNNERS.register_module()
class APCRunner(Runner):
    """mmengine's ``Runner`` with what every APC run needs, whatever starts it.

    Configs name it (``runner_type = 'APCRunner'``), so mmseg's own
    ``tools/train.py`` / ``dist_train.sh``, ``mim train`` and ours build it
    alike. ``from_cfg``: without CUDA, the ``pytorch`` launcher gets a gloo
    process group and DDP no device ids (mmengine's would call
    ``torch.cuda.set_device``); ``global_batch_size`` is shared by the
    processes (``split_global_batch``); loader workers are lowered to the
    cores each process has (``fit_loader_workers``); the optimizer wrapper gets the
    non-finite guard, and ``AmpOptimWrapper`` (``--amp``) becomes bf16
    autocast or fp16 with a loss scaler, as the GPU allows
    (``guard_optim_wrapper``); ``randomness.deterministic`` is refused on CUDA
    where torch has no deterministic kernel for an op of the run;
    glibc keeps freed memory; the config's text is formatted once
    (``TextCachedConfig``), not again for every checkpoint. ``train`` turns
    TF32 on for CUDA float32 matmuls and lets ``load_from`` be for other
    classes (fine-tuning; an evaluation refuses such weights:
    ``APCSegmentor.heads_may_differ``). A distributed run leaves its process
    group at exit, before the interpreter shuts its threads down.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'APCRunner':
        cfg = TextCachedConfig.of(cfg)  # a copy
        launcher = cfg.get('launcher', 'none')
        refuse_cuda_determinism(cfg)
        prepare_distributed(cfg, launcher)
        if cfg.get('optim_wrapper') is not None:
            guard_optim_wrapper(cfg.optim_wrapper, cfg.get('nonfinite_guard'))
            print_log(f"optimizer wrapper: {cfg.optim_wrapper.get('type', 'OptimWrapper')}",
                      logger='current')
        if cfg.get('train_dataloader') is not None:
            split_global_batch(cfg, launcher_world_size(launcher))
        fit_loader_workers(cfg, launcher)
        keep_freed_memory()
        runner = super().from_cfg(cfg)
        if runner.distributed:
            ref = weakref.ref(runner)
            atexit.register(lambda: finish_distributed(ref()))
        return runner

    def train(self) -> torch.nn.Module:
        allow_tf32()
        model = self.model.module if is_model_wrapper(self.model) else self.model
        if hasattr(model, 'heads_may_differ'):
            model.heads_may_differ = True  # load_from may be for other classes: fine-tuning
        return super().train()

    def resume(self, filename, resume_optimizer=True, resume_param_scheduler=True,
               map_location='default') -> None:
        super().resume(filename, resume_optimizer, resume_param_scheduler, map_location)
        self.extend_schedulers()

    def extend_schedulers(self) -> None:
        """Give each resumed iteration-based scheduler the end this run's
        config gives it.

        mmengine sets a scheduler's ``end`` to the run's ``max_iters`` when the
        config names none, and resuming restores the saved one: a run resumed
        with a longer ``train_cfg.max_iters`` would stop stepping at the old
        end, and a milestone past it (the learning-rate step, the backbone's
        unfreezing) would silently never come.
        """
        cfgs = self.cfg.get('param_scheduler') or []
        schedulers = self.param_schedulers
        if isinstance(schedulers, dict) or not isinstance(cfgs, (list, tuple)):
            return  # several optimizers: left as mmengine resumes them
        for scheduler, cfg in zip(schedulers, cfgs):
            if cfg.get('by_epoch', True) or 'end' in cfg:
                continue
            if scheduler.end < self.max_iters:
                print_log(f'{type(scheduler).__name__}: end {scheduler.end} (saved) -> '
                          f'{self.max_iters} (this run\'s train_cfg.max_iters)',
                          logger='current')
                # The steps counted at or past the old end did not advance
                # the schedule: catch up, as a run with the new end would have.
                skipped = scheduler._global_step - max(scheduler.end, scheduler.begin) + 1
                scheduler.last_step += max(skipped, 0)
                scheduler.end = self.max_iters
