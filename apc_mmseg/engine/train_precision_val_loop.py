from typing import Optional, Sequence

import torch
from mmengine.device import get_device
from mmengine.runner import ValLoop
from mmengine.runner.loops import _update_losses
from mmseg.registry import LOOPS


def training_autocast_dtype(runner) -> Optional[torch.dtype]:
    """The dtype the run's optimizer wrapper trains under (``--amp``: bf16 or
    fp16, ``AmpOptimWrapper``'s unset dtype being autocast's default for the
    device), or None for float32 training."""
    wrapper = getattr(runner, 'optim_wrapper', None)
    if wrapper is None or not hasattr(wrapper, 'cast_dtype'):
        return None
    if wrapper.cast_dtype is not None:
        return wrapper.cast_dtype
    return torch.float16 if torch.cuda.is_available() else torch.bfloat16


@LOOPS.register_module()
class TrainPrecisionValLoop(ValLoop):
    """mmengine's ``ValLoop`` in the precision the run trains in.

    ``ValLoop(fp16=True)`` validates in autocast's default dtype, fp16 on
    CUDA, whatever the training uses; this loop follows the training optimizer
    wrapper: bf16 or fp16 autocast under ``--amp``, float32 without. A
    validation outside training (``runner.val()`` without an optimizer
    wrapper) runs in float32. The model keeps its own float32 islands (the
    losses, the HV-BiLSTM) under autocast as in training.
    """

    @torch.no_grad()
    def run_iter(self, idx, data_batch: Sequence[dict]) -> None:
        self.runner.call_hook('before_val_iter', batch_idx=idx, data_batch=data_batch)
        dtype = training_autocast_dtype(self.runner)
        with torch.autocast(get_device(), dtype=dtype or torch.float32, enabled=dtype is not None):
            outputs = self.runner.model.val_step(data_batch)
        outputs, self.val_loss = _update_losses(outputs, self.val_loss)
        self.evaluator.process(data_samples=outputs, data_batch=data_batch)
        self.runner.call_hook('after_val_iter', batch_idx=idx, data_batch=data_batch,
                              outputs=outputs)
