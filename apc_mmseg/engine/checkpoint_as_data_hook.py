from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from ..utils.checkpoint import plain


@HOOKS.register_module()
class CheckpointAsDataHook(Hook):
    """Write checkpoints that torch's weights-only unpickler reads.

    mmengine puts the message hub (``HistoryBuffer`` objects with numpy
    arrays) and metadata with numpy values into every checkpoint; this hook
    runs last before a save (``LOWEST``: after the other hooks have added
    their parts) and writes everything but the weights as plain data
    (``apc_mmseg.utils.checkpoint.plain``). The loader of
    ``apc_mmseg.utils.checkpoint`` turns the buffers back into objects, so
    ``--resume`` continues the logs as before.
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        for key, value in checkpoint.items():
            if key != 'state_dict':
                checkpoint[key] = plain(value)
