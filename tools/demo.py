"""The README's main job: train APC from image tags on the demo data, on CPU.

1. generates the demo data set (tools/make_demo_data.py) unless it exists;
2. trains configs/apc/apc_demo_cpu.py from scratch (image-level labels only);
3. evaluates: the decode head on val (no labels), and the pseudo masks of the
   patch scores with the ground-truth image labels on train, with and without
   DenseCRF, next to two baselines (all background; every pixel of an image
   given its first labelled class);
4. draws per-class heat maps of the patch scores and prediction overlays into
   ``<work-dir>/vis/``; prints one table and writes ``<work-dir>/summary.json``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import mmcv  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.runner import Runner  # noqa: E402
from PIL import Image  # noqa: E402

import apc_mmseg  # noqa: E402,F401
from apc_mmseg.visualization import prediction_panel, save_rgb, score_panel  # noqa: E402
from make_demo_data import generate  # noqa: E402
from make_pseudo_masks import MIoU, build_dataset, make_pseudo_masks  # noqa: E402

CONFIG = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs/apc/apc_demo_cpu.py')


def baselines(dataset, num_classes):
    """mIoU of 'all background' and of 'first labelled class everywhere'."""
    bg, first = MIoU(num_classes), MIoU(num_classes)
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        gt = np.array(Image.open(info['seg_map_path']))
        bg.add(np.zeros_like(gt), gt)
        labels = info['image_labels']
        first.add(np.full_like(gt, labels[0] if labels else 0), gt)
    return bg.value(), first.value()


def draw(cfg, model, dataset, out_dir, count=6):
    """Heat maps of the patch scores (labelled classes) and decode-head overlays."""
    os.makedirs(out_dir, exist_ok=True)
    names, palette = dataset.metainfo['classes'], dataset.metainfo['palette']
    test_cfg = dict(model.test_cfg)
    for i in range(min(count, len(dataset))):
        data = pseudo_collate([dataset[i]])
        info = dataset.get_data_info(i)
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        with torch.no_grad():
            model.test_cfg.update(output='patch', use_gt_labels=True)
            patch = model.test_step(data)[0]
            model.test_cfg.update(output='decode')
            decode = model.test_step(pseudo_collate([dataset[i]]))[0]
        model.test_cfg.update(test_cfg)
        labels = data['data_samples'][0].gt_image_labels.nonzero()[:, 0].tolist()
        scores = patch.seg_logits.data.cpu().numpy()
        save_rgb(osp.join(out_dir, f"{info['img_id']}_heatmaps.png"),
                 score_panel(image, scores, [c for c in labels if c > 0], names))
        gt = patch.gt_sem_seg.data[0].cpu().numpy()
        save_rgb(osp.join(out_dir, f"{info['img_id']}_prediction.png"),
                 prediction_panel(image, decode.pred_sem_seg.data[0].cpu().numpy(), gt,
                                  palette))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--data', default='data/demo')
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--iters', type=int, help='training iterations (default: config)')
    parser.add_argument('--num-train', type=int, default=200)
    parser.add_argument('--num-val', type=int, default=50)
    parser.add_argument('--workers', type=int, default=2, help='CRF worker processes')
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    if not osp.isfile(osp.join(args.data, 'cls_labels.json')):
        generate(args.data, args.num_train, args.num_val, seed=0)

    cfg = Config.fromfile(CONFIG)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = args.data
    cfg.work_dir = args.work_dir
    if args.iters:
        cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = args.iters
        cfg.default_hooks.checkpoint.interval = args.iters
    runner = Runner.from_cfg(cfg)
    runner.train()
    ckpt = osp.join(args.work_dir, f'iter_{cfg.train_cfg.max_iters}.pth')
    train_seconds = time.perf_counter() - t0
    val_miou = runner.test()['mIoU']

    num_classes = cfg.model.decode_head.num_classes
    train_split = 'ImageSets/Segmentation/train.txt'
    pseudo = {}
    for crf in (False, True):
        out_dir = osp.join(args.work_dir, 'pseudo_masks' + ('_crf' if crf else ''))
        pseudo[crf] = make_pseudo_masks(cfg, ckpt, out_dir, ann_file=train_split,
                                        mask_dir='SegmentationClass', crf=crf,
                                        workers=args.workers, overwrite=True, progress=False)
    val_set = build_dataset(cfg, 'ImageSets/Segmentation/val.txt', 'SegmentationClass',
                            data_root=args.data)
    train_set = build_dataset(cfg, train_split, 'SegmentationClass', data_root=args.data)
    base_val, base_train = baselines(val_set, num_classes), baselines(train_set, num_classes)
    draw(cfg, runner.model, val_set, osp.join(args.work_dir, 'vis'))

    rows = [
        ('decode head (no labels)', val_miou, None),
        ('patch scores + image labels', None, pseudo[False]['miou']),
        ('patch scores + image labels + CRF', None, pseudo[True]['miou']),
        ('baseline: all background', base_val[0], base_train[0]),
        ('baseline: first labelled class', base_val[1], base_train[1]),
    ]
    fmt = lambda v: '   -  ' if v is None else f'{v:6.1f}'  # noqa: E731
    print(f"\n{'APC demo (mIoU, %)':38s} {'val':>6s} {'train':>6s}")
    for name, val, train in rows:
        print(f'{name:38s} {fmt(val)} {fmt(train)}')
    total = time.perf_counter() - t0
    print(f'\ntraining {train_seconds / 60:.1f} min, whole demo {total / 60:.1f} min; '
          f'pseudo masks {pseudo[False]["images_per_s"]:.1f} images/s, with CRF '
          f'{pseudo[True]["images_per_s"]:.1f} images/s; pictures in '
          f'{osp.join(args.work_dir, "vis")}')
    as_float = lambda v: None if v is None else float(v)  # noqa: E731
    summary = dict(rows=[dict(what=n, val=as_float(v), train=as_float(t)) for n, v, t in rows],
                   train_seconds=train_seconds, total_seconds=total,
                   pseudo_images_per_s=pseudo[False]['images_per_s'],
                   pseudo_crf_images_per_s=pseudo[True]['images_per_s'])
    with open(osp.join(args.work_dir, 'summary.json'), 'w') as f:
        json.dump(summary, f, indent=2)
    return summary


if __name__ == '__main__':
    main()
