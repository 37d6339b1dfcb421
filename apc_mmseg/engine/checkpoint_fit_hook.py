from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.runner import BaseLoop
from mmseg.registry import HOOKS


@HOOKS.register_module()
class CheckpointFitHook(Hook):
    """Refuse to evaluate a checkpoint whose heads do not fit the model.

    mmengine loads ``load_from`` non-strictly: heads trained for another
    class count are skipped with a warning, and a test would then report the
    mIoU of untrained heads. When the runner is not training, every tensor of
    the checkpoint under the model's heads must have the model's shape; the
    error names the file and both class counts. Training (fine-tuning from
    such a checkpoint) is left to mmengine's warnings.
    """

    priority = 'VERY_HIGH'
    heads = ('decode_head.', 'weak_head.')

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if isinstance(runner._train_loop, BaseLoop):  # built: a training run
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        own = model.state_dict()
        state = {k[len('module.'):] if k.startswith('module.') else k: v
                 for k, v in checkpoint.get('state_dict', checkpoint).items()}
        wrong = [k for k in own if k.startswith(self.heads) and k in state
                 and tuple(state[k].shape) != tuple(own[k].shape)]
        if wrong:
            theirs = state[wrong[0]].shape[0]
            raise ValueError(
                f"{runner.cfg.get('load_from') or 'checkpoint'}: its heads are for "
                f'{theirs} classes, the config has {getattr(model, "num_classes", "?")} '
                f'({wrong[0]}: {tuple(state[wrong[0]].shape)} vs {tuple(own[wrong[0]].shape)}); '
                'evaluate it with the config it was trained with')
