import logging

from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

from .nonfinite_guard import NonFiniteGuard


@HOOKS.register_module()
class RunnerCheckHook(Hook):
    """Say in the log what a run built without ``APCRunner`` lacks.

    APC configs name ``runner_type='APCRunner'``, which mmseg's tools, ``mim``
    and ``RUNNERS.build(cfg)`` follow; mmengine's ``Runner.from_cfg(cfg)``
    does not, and trains the config as written. Two of the configs' settings
    are then not applied: ``nonfinite_guard`` (the optimizer wrapper is not
    guarded, so a NaN/inf step reaches the weights) and ``global_batch_size``
    (each process keeps ``train_dataloader.batch_size``). Before training
    this hook warns for each, with the way to get them.
    """

    priority = 'VERY_LOW'

    def before_train(self, runner) -> None:
        cfg = runner.cfg
        how = (f'this run was built by {type(runner).__name__}, not APCRunner (the config\'s '
               "runner_type; build with RUNNERS.build(cfg) or APCRunner.from_cfg(cfg))")
        if cfg.get('nonfinite_guard') and not isinstance(runner.optim_wrapper, NonFiniteGuard):
            print_log(f"nonfinite_guard={dict(cfg.nonfinite_guard)} is not applied: {how}; "
                      'a NaN/inf loss or gradient reaches the weights', logger='current',
                      level=logging.WARNING)
        total = cfg.get('global_batch_size')
        per_process = runner.train_dataloader.batch_size
        if total and per_process * get_world_size() != total:
            print_log(f'global_batch_size={total} is not applied: {how}; each of '
                      f'{get_world_size()} process(es) takes {per_process} images a step',
                      logger='current', level=logging.WARNING)
