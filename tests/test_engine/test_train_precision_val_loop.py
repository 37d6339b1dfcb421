"""Validation runs in the precision the run trains in."""
import pytest
import torch
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS
from mmseg.structures import SegDataSample

from apc_mmseg.engine import TrainPrecisionValLoop, training_autocast_dtype


class Recorder(torch.nn.Module):
    """A model whose ``val_step`` records the autocast state it runs in."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def val_step(self, data_batch):
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.seen.append(torch.get_autocast_dtype(device)
                         if torch.is_autocast_enabled(device) else torch.float32)
        return [SegDataSample()]


class StubEvaluator:
    def process(self, data_samples, data_batch):
        pass


class StubRunner:
    def __init__(self, optim_wrapper):
        self.model = Recorder()
        self.optim_wrapper = optim_wrapper

    def call_hook(self, *args, **kwargs):
        pass


def wrapper(kind):
    params = [torch.nn.Parameter(torch.zeros(1))]
    opt = torch.optim.SGD(params, lr=0.1)
    if kind == 'fp32':
        return OptimWrapper(opt)
    if kind == 'bf16':
        return OPTIM_WRAPPERS.build(dict(type='GuardedBF16OptimWrapper', optimizer=opt))
    amp = AmpOptimWrapper.__new__(AmpOptimWrapper)  # its constructor wants a GPU
    amp.cast_dtype, amp.optimizer = torch.bfloat16, opt  # what dtype='bfloat16' sets
    return amp


@pytest.mark.parametrize('kind,want', [('fp32', torch.float32), ('bf16', torch.bfloat16),
                                       ('amp', torch.bfloat16), (None, torch.float32)])
def test_validation_follows_the_training_precision(kind, want):
    runner = StubRunner(wrapper(kind) if kind else None)
    loop = TrainPrecisionValLoop.__new__(TrainPrecisionValLoop)  # the loop's state it uses
    loop._runner, loop.evaluator, loop.val_loss = runner, StubEvaluator(), {}
    loop.run_iter(0, [{}])
    assert runner.model.seen == [want]
    assert training_autocast_dtype(runner) == (None if want == torch.float32 else want)


def test_an_amp_wrapper_without_a_dtype_takes_autocasts_default():
    """``AmpOptimWrapper()``'s unset dtype: fp16 on CUDA, bf16 on CPU."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    amp = AmpOptimWrapper.__new__(AmpOptimWrapper)
    amp.cast_dtype, amp.optimizer = None, opt
    runner = StubRunner(amp)
    want = torch.float16 if torch.cuda.is_available() else torch.bfloat16
    assert training_autocast_dtype(runner) == want
