"""Time APC's parts in one run and report them as ratios.

Training step (forward + backward + optimiser) of the bare backbone and of the
full APC model; inference of the bare backbone and of the full model (with and
without flip) at the test size; AKP pooling and the PCL loss alone; DenseCRF on
a 500x375 image with 2 and with 21 classes. Each figure is the median of
``--reps`` runs after ``--warmup`` runs. Prints a table and writes JSON.

    python tools/benchmark.py configs/apc/apc_vitb16_voc.py --batch 2 --out bench.json
"""
import argparse
import json
import os.path as osp
import platform
import resource
import statistics
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmseg.registry import MODELS  # noqa: E402
from mmseg.utils import register_all_modules  # noqa: E402

import apc_mmseg  # noqa: E402,F401
from apc_mmseg.models import build_pooling, patch_contrast_loss  # noqa: E402
from apc_mmseg.postprocessing import dense_crf  # noqa: E402


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, device, warmup, reps):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def build_model(config, device):
    """The config's model with random weights (speed does not depend on them)."""
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    return MODELS.build(cfg.model).to(device)


def fake_batch(model, batch, size, device, seed=0):
    from mmseg.structures import SegDataSample
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


def bench_train(model, data, device, amp, warmup, reps):
    params = [p for p in model.parameters() if p.requires_grad]
    bb_params = [p for p in model.backbone.parameters() if p.requires_grad]
    opt_full = torch.optim.Adam(params, lr=1e-6)
    opt_bb = torch.optim.Adam(bb_params, lr=1e-6)
    ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if amp else \
        (lambda: torch.autocast(device.type, enabled=False))
    model.train()

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

    return dict(train_backbone=timed(backbone_step, device, warmup, reps),
                train_full=timed(full_step, device, warmup, reps))


@torch.no_grad()
def bench_infer(model, size, device, warmup, reps):
    model.eval()
    x = torch.randn(1, 3, *size, device=device)
    metas = [dict(ori_shape=size, img_shape=size, pad_shape=size)]
    model.test_cfg.size = size
    out = dict(infer_backbone=timed(lambda: model.backbone(x), device, warmup, reps))
    model.test_cfg.flip = False
    out['infer_full'] = timed(lambda: model.inference(x, metas), device, warmup, reps)
    model.test_cfg.flip = True
    out['infer_full_flip'] = timed(lambda: model.inference(x, metas), device, warmup, reps)
    model.test_cfg.flip = False
    return out


def bench_heads(num_classes, grid, batch, dim, device, warmup, reps):
    probs = torch.rand(batch, num_classes, grid, grid, device=device).softmax(1)
    emb = torch.randn(batch, dim, grid, grid, device=device, requires_grad=True)
    labels = (torch.rand(batch, num_classes, device=device) > 0.8).float()
    labels[:, 0] = 1
    akp = build_pooling(dict(type='akp'))
    return dict(akp_pooling=timed(lambda: akp(probs), device, warmup, reps),
                pcl_loss_fwd_bwd=timed(
                    lambda: patch_contrast_loss(emb, probs * 4, labels).backward(),
                    device, warmup, reps))


def bench_crf(warmup, reps):
    """DenseCRF at 500x375 on a random-noise image (the bilateral filter's worst
    case) and on a demo scene (smooth background, objects) upscaled to that size."""
    import cv2
    sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
    from make_demo_data import make_image
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--train-size', type=int, default=384)
    parser.add_argument('--test-size', type=int, default=960)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', action='store_true', help='bf16 autocast in the train step')
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--reps', type=int, default=3)
    parser.add_argument('--skip', nargs='*', default=[], choices=['train', 'infer', 'heads', 'crf'])
    parser.add_argument('--out', help='write the figures as JSON here')
    args = parser.parse_args(argv)
    register_all_modules(init_default_scope=True)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = build_model(args.config, device)
    size = (args.train_size, args.train_size)
    res = {}
    if 'train' not in args.skip:
        res.update(bench_train(model, fake_batch(model, args.batch, size, device), device,
                               args.amp, args.warmup, args.reps))
    if 'infer' not in args.skip:
        res.update(bench_infer(model, (args.test_size,) * 2, device, args.warmup, args.reps))
    if 'heads' not in args.skip:
        grid = args.train_size // 16
        res.update(bench_heads(model.num_classes, grid, args.batch * 8,
                               model.weak_head.in_channels, device, args.warmup, args.reps))
    if 'crf' not in args.skip:
        res.update(bench_crf(args.warmup, args.reps))
    ratios = {}
    if 'train_full' in res:
        ratios['train_full / train_backbone'] = res['train_full'] / res['train_backbone']
    if 'infer_full' in res:
        ratios['infer_full / infer_backbone'] = res['infer_full'] / res['infer_backbone']
        ratios['infer_full_flip / infer_backbone'] = res['infer_full_flip'] / res['infer_backbone']
    peak = (torch.cuda.max_memory_allocated() if device.type == 'cuda'
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    report = dict(config=args.config, device=str(device), machine=platform.processor() or
                  platform.machine(), threads=torch.get_num_threads(), batch=args.batch,
                  train_size=args.train_size, test_size=args.test_size, amp=args.amp,
                  seconds=res, ratios=ratios, peak_memory_mb=peak / 2 ** 20)
    print(f"{'what':32s} {'seconds':>10s}")
    for k, v in res.items():
        print(f'{k:32s} {v:10.4f}')
    for k, v in ratios.items():
        print(f'{k:32s} {v:10.3f}x')
    print(f"{'peak memory (MiB)':32s} {report['peak_memory_mb']:10.0f}")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
