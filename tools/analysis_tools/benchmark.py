#!/usr/bin/env python
"""Time APC's parts in one run and report them as ratios (see BENCHMARKS.md).

Training step (forward + backward + optimiser) of the bare backbone and of the
full APC model; inference of the bare backbone and of the full model (with and
without flip) at the test size; AKP pooling and the PCL loss alone; DenseCRF on
a 500x375 image with 2, 3 and 21 classes; the evaluation's CRF image after image
and in CRFIoUMetric's pool; the training data loader's images per second. Each
time is the median of ``--reps`` runs after ``--warmup`` runs, the runs of
compared variants taken in turns (``apc_lab.profiling``). From the
training step: images per second, TFLOP/s (torch's FLOP counter and the LSTMs),
the FLOP utilisation on a known GPU, and the projected time of 15 epochs of VOC
train_aug; with inference and the loader too, the config's whole schedule on
VOC projected part by part (loader, step, validation, checkpoints) with the
part that bounds it (``apc_lab.profiling.project_voc_run``). Prints a
table and writes JSON. Sets malloc as training does (APC_MMSEG_TUNE_MALLOC=0:
not).

    python tools/analysis_tools/benchmark.py configs/apc/apc_vitb16_voc.py --out bench.json
"""
import argparse
import json
import os
import os.path as osp
import platform
import resource
import tempfile
import time

import cv2
import numpy as np
import torch
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmseg.registry import DATASETS, MODELS
from mmseg.structures import SegDataSample
from mmseg.utils import register_all_modules

from apc_lab.demo_data import make_image
from apc_lab.profiling import (
    PEAK_TFLOPS,
    check_finite,
    count_flops,
    peak_tflops,
    project_voc_run,
    timed,
    timed_together,
)
from apc_mmseg.engine import guard_optim_wrapper, resolve_amp_dtype
from apc_mmseg.evaluation import CRFIoUMetric, crf_workers
from apc_mmseg.models import AdaptiveKPooling, patch_contrast_loss
from apc_mmseg.postprocessing import dense_crf
from apc_mmseg.utils import allow_tf32, keep_freed_memory

VOC_TRAIN_AUG_IMAGES = 10582


def build_model(config, device):
    """The config's model with random weights (speed does not depend on them)
    and its optim wrapper's config."""
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model).to(device), guard_optim_wrapper(cfg.optim_wrapper,
                                                                   cfg.get('nonfinite_guard'))


def fake_batch(model, batch, size, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    C = model.num_classes
    samples = []
    for _ in range(batch):
        ds = SegDataSample(metainfo=dict(img_shape=size, ori_shape=size, pad_shape=size))
        labels = torch.zeros(C)
        labels[0] = 1
        labels[torch.randint(1, C, (2,), generator=g)] = 1
        ds.gt_image_labels = labels
        samples.append(ds)
    inputs = [torch.randint(0, 256, (3, *size), generator=g, dtype=torch.uint8)
              for _ in range(batch)]
    return model.data_preprocessor(dict(inputs=inputs, data_samples=samples), True)


def amp_dtype(device):
    """What ``--amp`` trains in (APCRunner's choice): on a GPU bf16 where it is
    native, else fp16; bf16 on CPU."""
    return getattr(torch, resolve_amp_dtype()) if device.type == 'cuda' else torch.bfloat16


def bench_train(model, data, optim_wrapper, device, amp, warmup, reps):
    """``optim_wrapper``: the config's, whose constructor builds the optimizer
    (and its parameter groups) once for the model and once for the backbone.
    Raises if a loss of the measured steps is not finite."""
    opt_full = build_optim_wrapper(model, optim_wrapper).optimizer
    opt_bb = build_optim_wrapper(model.backbone, optim_wrapper).optimizer
    dtype = amp_dtype(device) if amp else torch.float32
    ctx = (lambda: torch.autocast(device.type, dtype=dtype)) if amp else \
        (lambda: torch.autocast(device.type, enabled=False))
    model.train()
    seen, names = [], []

    def backbone_step():
        opt_bb.zero_grad(set_to_none=True)
        with ctx():
            feats = model.backbone(data['inputs'])
            loss = sum(f.float().mean() for f in feats)
        loss.backward()
        opt_bb.step()

    def full_step():
        opt_full.zero_grad(set_to_none=True)
        with ctx():
            losses = model(**data, mode='loss')
            loss = sum(v for k, v in losses.items() if 'loss' in k)
        loss.backward()
        opt_full.step()
        names[:] = [k for k in losses if 'loss' in k]
        seen.append(torch.stack([losses[k].detach().float() for k in names]))

    out = timed_together(dict(train_backbone=backbone_step, train_full=full_step),
                         device, warmup, reps)
    out['train_full_gflop'] = count_flops(full_step, model) / 1e9
    check_finite(torch.stack(seen), names, dtype)
    out['train_dtype'] = str(dtype).replace('torch.', '')
    out['optimizer'] = opt_full  # stepped: its state is what a checkpoint holds
    return out


@torch.no_grad()
def bench_infer(model, size, device, warmup, reps):
    model.eval()
    x = torch.randn(1, 3, *size, device=device)
    metas = [dict(ori_shape=size, img_shape=size, pad_shape=size)]
    model.test_cfg.size = size

    def full(flip):
        model.test_cfg.flip = flip
        return model.inference(x, metas)

    out = timed_together(dict(infer_backbone=lambda: model.backbone(x),
                              infer_full=lambda: full(False),
                              infer_full_flip=lambda: full(True)), device, warmup, reps)
    model.test_cfg.flip = False
    return out


def bench_heads(num_classes, grid, batch, dim, device, warmup, reps):
    probs = torch.rand(batch, num_classes, grid, grid, device=device).softmax(1)
    emb = torch.randn(batch, dim, grid, grid, device=device, requires_grad=True)
    labels = (torch.rand(batch, num_classes, device=device) > 0.8).float()
    labels[:, 0] = 1
    akp = AdaptiveKPooling()
    return dict(akp_pooling=timed(lambda: akp(probs), device, warmup, reps),
                pcl_loss_fwd_bwd=timed(
                    lambda: patch_contrast_loss(emb, probs * 4, labels).backward(),
                    device, warmup, reps))


def bench_crf(warmup, reps):
    """DenseCRF at 500x375 on a random-noise image (the bilateral filter's worst
    case) and on a demo scene (smooth background, objects) upscaled to that size."""
    rng = np.random.default_rng(0)
    images = dict(noise=rng.integers(0, 256, (375, 500, 3), dtype=np.uint8),
                  scene=cv2.resize(make_image(np.random.default_rng(0))[0], (500, 375)))
    out = {}
    for name, img in images.items():
        for k in (2, 3, 21):
            probs = rng.random((k, 375, 500)).astype(np.float32)
            probs /= probs.sum(0, keepdims=True)
            out[f'crf_{name}_{k}_classes'] = timed(lambda: dense_crf(img, probs),
                                                   torch.device('cpu'), warmup, reps)
    return out


def crf_eval_samples(root, num_images, num_classes=21):
    """Demo scenes at 500x375 written to ``root`` with their masks and noisy
    class probabilities, as ``CRFIoUMetric`` receives them."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(num_images):
        img, mask, present = make_image(rng)
        img, mask = cv2.resize(img, (500, 375)), cv2.resize(mask, (500, 375),
                                                             interpolation=cv2.INTER_NEAREST)
        path = os.path.join(root, f'{i}.png')
        cv2.imwrite(path, img[..., ::-1])
        probs = rng.random((num_classes, 375, 500)).astype(np.float32) * 0.2
        for c in [0] + present:
            probs[c] += (mask == c) * 0.6 + 0.2
        probs /= probs.sum(0, keepdims=True)
        samples.append(dict(img_path=path, seg_logits=dict(data=torch.from_numpy(np.log(probs))),
                            gt_sem_seg=dict(data=torch.from_numpy(mask.astype(np.int64))[None])))
    return samples


def bench_crf_eval(num_images=32, workers='auto'):
    """An evaluation's CRF (``CRFIoUMetric``): images/s with the CRF image after
    image in the evaluating process (``workers=1``, as a CRF inside
    ``predict`` runs) and in its worker pool (start-up included), and the
    pool's start-up alone (a one-image evaluation, less one serial image)."""

    def evaluate(samples, n):
        """(seconds, mIoU) of one evaluation with ``n`` CRF processes."""
        metric = CRFIoUMetric(workers=n)
        metric.dataset_meta = dict(classes=[str(c) for c in range(21)])
        t0 = time.perf_counter()
        metric.process({}, samples)
        miou = metric.evaluate(len(samples))['mIoU']
        return time.perf_counter() - t0, float(miou)

    pool = crf_workers(workers)
    out = dict(crf_eval_workers=pool)
    with tempfile.TemporaryDirectory() as root:
        samples = crf_eval_samples(root, num_images)
        for name, n in (('serial', 1), ('pool', pool)):
            seconds, out[f'crf_eval_{name}_miou'] = evaluate(samples, n)
            out[f'crf_eval_{name}_images_per_s'] = num_images / seconds
        out['crf_eval_pool_startup_s'] = evaluate(samples[:1], pool)[0] - \
            1 / out['crf_eval_serial_images_per_s']
    return out


def write_loader_images(cfg, root, num_images):
    """``num_images`` 500x375 JPEG scenes with image labels in ``root`` (a
    folder of the benchmark's own), and the config's training set pointed at
    them. The config's own data paths are never written to: joined to
    ``root`` an absolute one would lead back to the user's data."""
    ds_cfg = cfg.train_dataloader.dataset
    classes = (ds_cfg.get('metainfo') or {}).get('classes') or \
        DATASETS.get(ds_cfg.type).METAINFO['classes']
    os.makedirs(osp.join(root, 'JPEGImages'))
    rng = np.random.default_rng(0)
    ids = [f'{i:06d}' for i in range(num_images)]
    labels = {}
    for img_id in ids:
        img = cv2.resize(make_image(rng)[0], (500, 375))
        cv2.imwrite(osp.join(root, 'JPEGImages', img_id + '.jpg'), img[..., ::-1])
        labels[img_id] = [classes[c] for c in rng.choice(np.arange(1, len(classes)), 2,
                                                         replace=False)]
    with open(osp.join(root, 'train.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump(labels, f)
    # set one by one: ConfigDict.update would merge data_prefix, keeping the config's paths
    for key, value in dict(data_root=root, data_prefix=dict(img_path='JPEGImages'),
                           img_suffix='.jpg', ann_file='train.txt',
                           labels_file='cls_labels.json').items():
        ds_cfg[key] = value


def bench_checkpoint(model, optimizer) -> float:
    """Seconds of one save of the model and optimizer state (what a
    ``CheckpointHook`` writes, less the config text) to a local file."""
    state = dict(state_dict=model.state_dict(), optimizer=optimizer.state_dict())
    with tempfile.TemporaryDirectory() as root:
        t = time.perf_counter()
        torch.save(state, osp.join(root, 'iter.pth'))
        return time.perf_counter() - t


def bench_loader(config, workers, batches, warmup):
    """Images per second of the config's training data loader (decode,
    augment, collate) on synthetic 500x375 JPEGs, after ``warmup`` batches."""
    cfg = Config.fromfile(config)
    loader_cfg = cfg.train_dataloader
    if workers is not None:
        loader_cfg.num_workers = workers
        loader_cfg.persistent_workers = workers > 0
    with tempfile.TemporaryDirectory() as root:
        write_loader_images(cfg, root, num_images=64)
        loader = Runner.build_dataloader(loader_cfg, seed=0)
        batches_iter = iter(loader)
        for _ in range(warmup):
            next(batches_iter)
        t = time.perf_counter()
        for _ in range(batches):
            next(batches_iter)
        seconds = time.perf_counter() - t
        del batches_iter, loader
    return dict(loader_images_per_s=batches * loader_cfg.batch_size / seconds,
                loader_workers=loader_cfg.num_workers)


def add_crf_eval(rates: dict, ratios: dict, images: int, workers) -> None:
    """The CRF evaluation's rates, serial and in the pool (which must agree)."""
    crf_eval = bench_crf_eval(images, workers)
    if crf_eval['crf_eval_serial_miou'] != crf_eval['crf_eval_pool_miou']:
        raise RuntimeError(f'CRF evaluation differs between serial and pool: {crf_eval}')
    rates.update(crf_eval)
    ratios['crf_eval pool / serial (images/s)'] = \
        crf_eval['crf_eval_pool_images_per_s'] / crf_eval['crf_eval_serial_images_per_s']


def add_train_rates(res: dict, rates: dict, ratios: dict, batch: int, peak) -> None:
    """Images, TFLOP/s, a VOC run's minutes and the utilisation of ``peak``
    TFLOP/s (when known) from the timed training step."""
    ratios['train_full / train_backbone'] = res['train_full'] / res['train_backbone']
    rates['train_images_per_s'] = batch / res['train_full']
    rates['train_tflop_per_s'] = res.pop('train_full_gflop') / res['train_full'] / 1e3
    rates['voc_15_epochs_minutes'] = 15 * VOC_TRAIN_AUG_IMAGES / rates['train_images_per_s'] / 60
    if peak:
        rates['model_flop_utilisation'] = rates['train_tflop_per_s'] / peak
    if 'loader_images_per_s' in rates:
        ratios['loader / train step (images/s)'] = \
            rates['loader_images_per_s'] / rates['train_images_per_s']


def run_benchmark(config, batch=2, train_size=384, test_size=960, device=None, amp=False,
                  warmup=1, reps=3, skip=(), loader_workers=None, loader_batches=100,
                  peak=None, out=None, crf_eval_images=32, crf_workers='auto') -> dict:
    """Every measurement the command line offers; returns the report (and
    writes it as JSON to ``out``)."""
    malloc_tuned = keep_freed_memory()  # as tools/train.py does
    allow_tf32()
    register_all_modules(init_default_scope=True)
    device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    torch.manual_seed(0)
    model, optim_wrapper = build_model(config, device)
    size = (train_size, train_size)
    res = {}
    checkpoint_s = None
    if 'train' not in skip:
        train = bench_train(model, fake_batch(model, batch, size, device), optim_wrapper,
                            device, amp, warmup, reps)
        checkpoint_s = bench_checkpoint(model, train.pop('optimizer'))
        res.update(train)
    if 'infer' not in skip:
        res.update(bench_infer(model, (test_size,) * 2, device, warmup, reps))
    if 'heads' not in skip:
        res.update(bench_heads(model.num_classes, train_size // 16, batch * 8,
                               model.weak_head.in_channels, device, warmup, reps))
    if 'crf' not in skip:
        res.update(bench_crf(warmup, reps))
    rates, ratios = {}, {}
    train_dtype = res.pop('train_dtype', None)
    if 'loader' not in skip:
        rates.update(bench_loader(config, loader_workers, loader_batches, warmup=2))
    if 'crf_eval' not in skip:
        add_crf_eval(rates, ratios, crf_eval_images, crf_workers)
    if 'train_full' in res:
        add_train_rates(res, rates, ratios, batch, peak_tflops(device, peak, train_dtype))
    projection = None
    if 'train_full' in res and 'infer_full' in res:
        res['checkpoint_save'] = checkpoint_s
        projection = project_voc_run(Config.fromfile(config), rates, res, checkpoint_s)
    if 'infer_full' in res:
        ratios['infer_full / infer_backbone'] = res['infer_full'] / res['infer_backbone']
        ratios['infer_full_flip / infer_backbone'] = res['infer_full_flip'] / res['infer_backbone']
    peak_mem = (torch.cuda.max_memory_allocated() if device.type == 'cuda'
                else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    report = dict(config=config, device=str(device), machine=platform.processor() or
                  platform.machine(), threads=torch.get_num_threads(), batch=batch,
                  train_size=train_size, test_size=test_size, amp=amp,
                  train_dtype=train_dtype, malloc_tuned=malloc_tuned, seconds=res,
                  rates=rates, ratios=ratios, peak_memory_mb=peak_mem / 2 ** 20,
                  voc_run=projection)
    if out:
        with open(out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--train-size', type=int, default=384)
    parser.add_argument('--test-size', type=int, default=960)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true',
                        help='autocast in the train step (bf16, or fp16 where a GPU lacks it)')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--skip', nargs='*', default=[],
                        choices=['train', 'infer', 'heads', 'crf', 'crf_eval', 'loader'])
    parser.add_argument('--loader-workers', type=int,
                        help="data-loader workers (default: the config's)")
    parser.add_argument('--loader-batches', type=int, default=100)
    parser.add_argument('--crf-eval-images', type=int, default=32,
                        help='images of the CRF-evaluation measurement')
    parser.add_argument('--crf-workers', default='auto',
                        help="the pool's CRF processes (default 'auto': the usable cores)")
    parser.add_argument('--peak-tflops', type=float,
                        help="the card's peak for the step's precision, for the FLOP "
                        'utilisation (known: ' + ', '.join(PEAK_TFLOPS['bfloat16']) + ')')
    parser.add_argument('--out', help='write the figures as JSON here')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    report = run_benchmark(
        args.config, args.batch, args.train_size, args.test_size, args.device, args.amp,
        args.warmup, args.reps, args.skip, args.loader_workers, args.loader_batches,
        args.peak_tflops, args.out, args.crf_eval_images, args.crf_workers)
    print(f"{'what':36s} {'value':>10s}")
    for k, v in report['seconds'].items():
        print(f'{k:36s} {v:10.4f} s')
    for k, v in report['rates'].items():
        print(f'{k:36s} {v:10.3f}')
    for k, v in report['ratios'].items():
        print(f'{k:36s} {v:10.3f}x')
    print(f"{'peak memory (MiB)':36s} {report['peak_memory_mb']:10.0f}")
    run = report['voc_run']
    if run:
        print(f"the config's schedule on VOC: {run['total_minutes']:.1f} min, bound by "
              f"{run['bound']}")
        for k, v in run['minutes'].items():
            print(f'  {k:34s} {v:10.2f} min')


if __name__ == '__main__':
    main()
