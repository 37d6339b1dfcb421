from mmengine.optim.scheduler.param_scheduler import INF, _ParamScheduler
from mmseg.registry import PARAM_SCHEDULERS


@PARAM_SCHEDULERS.register_module()
class UnfreezeStepLR(_ParamScheduler):
    """Two-stage lr of ViT-PCM/APC (docs/method.md, schedule).

    Before ``milestone`` every group runs at its initial lr except the groups
    marked ``delayed``, which run at 0; from ``milestone`` on, every group
    runs at ``gamma * initial lr``. Groups are marked through mmengine's
    ``paramwise_cfg=dict(custom_keys={'backbone': dict(delayed=True)})``.
    The delayed parameters keep ``requires_grad=True`` from construction, so
    DDP's gradient buckets never change. Closed form, so resuming is exact.
    """

    def __init__(self, optimizer, milestone: int, gamma: float = 0.1,
                 begin: int = 0, end: int = INF, last_step: int = -1,
                 by_epoch: bool = True, verbose: bool = False):
        self.milestone = milestone
        self.gamma = gamma
        super().__init__(optimizer, 'lr', begin=begin, end=end,
                         last_step=last_step, by_epoch=by_epoch,
                         verbose=verbose)

    @classmethod
    def build_iter_from_epoch(cls, *args, milestone, begin=0, end=INF,
                              by_epoch=True, epoch_length=None, **kwargs):
        """Convert an epoch-based config to iterations."""
        assert by_epoch and epoch_length, 'needs by_epoch=True and epoch_length'
        end = end if end == INF else int(end * epoch_length)
        return cls(*args, milestone=milestone * epoch_length,
                   begin=int(begin * epoch_length), end=end,
                   by_epoch=False, **kwargs)

    def _get_value(self):
        after = self.last_step >= self.milestone
        return [
            group['initial_lr'] * (self.gamma if after else
                                   (0.0 if group.get('delayed') else 1.0))
            for group in self.optimizer.param_groups
        ]
