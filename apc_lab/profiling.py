"""Timing and FLOP counting for the benchmark
(``tools/analysis_tools/benchmark.py``): medians of repeated runs taken in
turns, torch's FLOP counter with the LSTMs added, the peaks of known GPUs for
the FLOP utilisation, and the refusal to time non-finite steps."""
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop, sdpa_flop


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, device, warmup, reps):
    return timed_together(dict(t=fn), device, warmup, reps)['t']


def timed_together(fns, device, warmup, reps):
    """Median seconds of each function, run in turns so that drift of a
    shared machine touches all of them alike."""
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    sync(device)
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}


def check_finite(values, names, dtype):
    """A speed of steps whose losses are NaN/inf is no speed: refuse it."""
    bad = ~torch.isfinite(values)
    if bad.any():
        which = sorted({names[j] for j in bad.nonzero()[:, 1].tolist()})
        raise RuntimeError(f'non-finite {which} in {int(bad.any(1).sum())} of {len(values)} '
                           f'training steps ({dtype}): no speed is reported')


# Dense tensor-core peaks (TFLOP/s) for the model-FLOP utilisation: bf16/fp16
# for --amp runs, TF32 for float32 runs (the tools allow TF32 matmuls on CUDA).
# --peak-tflops overrides (or gives one for another card).
PEAK_TFLOPS = {
    'bfloat16': {'H100 PCIe': 756., 'H100': 989., 'H200': 989., 'A100': 312.,
                 'RTX 4090': 165.},
    'float32': {'H100 PCIe': 378., 'H100': 495., 'H200': 495., 'A100': 156.,
                'RTX 4090': 82.6},
}
PEAK_TFLOPS['float16'] = PEAK_TFLOPS['bfloat16']


def lstm_flops(lstm, x, backward):
    """Multiply-add FLOPs of an ``nn.LSTM`` on ``x`` (any layout): per layer
    and direction, 4 gates of (input + hidden) -> hidden for every token;
    a backward pass costs twice the forward."""
    tokens = x.shape[0] * x.shape[1] if x.dim() == 3 else x.shape[0]
    dirs = 2 if lstm.bidirectional else 1
    h, total, width = lstm.hidden_size, 0, lstm.input_size
    for _ in range(lstm.num_layers):
        total += dirs * 2 * tokens * 4 * h * (width + h)
        width = dirs * h
    return total * (3 if backward else 1)


def count_flops(fn, model=None):
    """FLOPs of ``fn()`` as torch's FlopCounterMode counts them (matmuls,
    convolutions, attention incl. the CPU flash kernel), plus the ``nn.LSTM``
    modules of ``model`` (their fused kernels are not counted by torch)."""
    aten = torch.ops.aten

    def as_is(formula):  # torch's formulas already take tensors: no second wrapping
        def count(*args, **kwargs):
            return formula(*args, **kwargs)
        count._get_raw = True
        return count

    extra = {}
    if hasattr(aten, '_scaled_dot_product_flash_attention_for_cpu'):
        extra = {aten._scaled_dot_product_flash_attention_for_cpu: as_is(sdpa_flop),
                 aten._scaled_dot_product_flash_attention_for_cpu_backward:
                 as_is(sdpa_backward_flop)}
    lstm_total = []
    hooks = [m.register_forward_hook(
        lambda mod, inp, out: lstm_total.append(
            lstm_flops(mod, inp[0], torch.is_grad_enabled() and out[0].requires_grad)))
        for m in (model.modules() if model is not None else ())
        if isinstance(m, torch.nn.LSTM)]
    try:
        with FlopCounterMode(display=False, custom_mapping=extra) as counter:
            fn()
    finally:
        for hook in hooks:
            hook.remove()
    return counter.get_total_flops() + sum(lstm_total)


def peak_tflops(device, given, dtype):
    if given or device.type != 'cuda':
        return given
    name = torch.cuda.get_device_name(device)
    for key, value in PEAK_TFLOPS[dtype].items():  # most specific first
        if key in name:
            return value
    return None


VOC_VAL_IMAGES = 1449


def project_voc_run(cfg, rates: dict, seconds: dict, checkpoint_seconds: float) -> dict:
    """The minutes of each part of ``cfg``'s schedule on VOC, from one
    benchmark's measurements, and which part bounds the run.

    - ``train_step``: ``max_iters x global batch`` images at the measured
      step rate; ``loader``: the same images at the loader's rate. The loader
      runs beside the step (its workers prefetch), so training takes the
      larger of the two: the *bound*.
    - ``validation``: every ``val_interval`` iterations, VOC val (1,449
      images) plus the pseudo-mask images of ``WSSSValDataset``
      (``num_train``), each at the full model's inference time at the test
      size (with flip where ``test_cfg.flip``).
    - ``checkpoints``: every ``checkpoint.interval`` iterations, one save of
      the model and optimizer state.
    Logging and the other hooks are not counted.
    """
    iters = cfg.train_cfg.max_iters
    images = iters * (cfg.get('global_batch_size') or cfg.train_dataloader.batch_size)
    minutes = dict(train_step=images / rates['train_images_per_s'] / 60)
    if 'loader_images_per_s' in rates:
        minutes['loader'] = images / rates['loader_images_per_s'] / 60
    val_set = cfg.val_dataloader.dataset
    val_images = VOC_VAL_IMAGES + (val_set.get('num_train') or 0)
    infer = seconds['infer_full_flip' if cfg.model.test_cfg.get('flip') else 'infer_full']
    validations = iters // cfg.train_cfg.val_interval
    minutes['validation'] = validations * val_images * infer / 60
    saves = iters // cfg.default_hooks.checkpoint.interval
    minutes['checkpoints'] = saves * checkpoint_seconds / 60
    bound = max(('train_step', 'loader'), key=lambda k: minutes.get(k, 0))
    total = minutes[bound] + minutes['validation'] + minutes['checkpoints']
    return dict(minutes=minutes, bound=bound, total_minutes=total,
                validation_share=minutes['validation'] / total,
                checkpoint_share=minutes['checkpoints'] / total)
