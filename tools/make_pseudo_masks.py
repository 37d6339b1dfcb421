"""Pseudo masks from a trained APC checkpoint (the paper's Table 2).

For every image of a split: the patch classifier's scores at the configured
inference size (optionally with flip / multi-scale), restricted to the
image's ground-truth labels and class-merged, upsampled to the image, then
optionally refined by DenseCRF in parallel worker processes. Writes palette
PNGs (class indices with the dataset's palette: they open as colours and load
as indices), optionally the scores (``.npy``, float16), reports mIoU when
masks exist, shows progress, and skips images already written.

    python tools/make_pseudo_masks.py configs/apc/apc_vitb16_voc.py ckpt.pth \\
        --ann-file ImageSets/Segmentation/train.txt --mask-dir SegmentationClassAug \\
        --out-dir work_dirs/pseudo_masks --crf --workers 8

The output folder can serve as ``seg_map_path`` of a standard mmseg dataset
(see configs/apc/deeplabv3plus_r101_voc_apc_pseudo.py).
"""
import argparse
import copy
import os
import os.path as osp
import sys
import time
from multiprocessing import get_context

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import mmcv  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402
from mmseg.evaluation.metrics import IoUMetric  # noqa: E402
from PIL import Image  # noqa: E402

import apc_mmseg  # noqa: E402,F401
from apc_mmseg.postprocessing import CRF_DEFAULTS, dense_crf  # noqa: E402


def build_dataset(cfg, ann_file=None, mask_dir=None, labels_file=None, data_root=None):
    """The training images (by default) with labels, and masks when given."""
    from mmseg.registry import DATASETS
    ds_cfg = copy.deepcopy(cfg.train_dataloader.dataset)
    if data_root:
        ds_cfg.data_root = data_root
    if ann_file:
        ds_cfg.ann_file = ann_file
    if labels_file:
        ds_cfg.labels_file = labels_file
    if not ds_cfg.get('labels_file'):
        raise ValueError('pseudo masks need image labels: give --labels-file')
    ds_cfg.data_prefix = dict(ds_cfg.get('data_prefix', {}))
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='LoadImageLevelLabels')]
    if mask_dir:
        ds_cfg.data_prefix['seg_map_path'] = mask_dir
        pipeline.append(dict(type='LoadAnnotations'))
    else:
        ds_cfg.data_prefix.pop('seg_map_path', None)
    ds_cfg.pipeline = pipeline + [dict(type='PackWeakSegInputs')]
    ds_cfg.test_mode = True
    return DATASETS.build(ds_cfg)


def save_palette_png(path, labels, palette):
    img = Image.fromarray(labels.astype(np.uint8), mode='P')
    flat = np.zeros((256, 3), np.uint8)
    flat[:len(palette)] = np.asarray(palette, np.uint8)[:256]
    img.putpalette(flat.flatten().tolist())
    tmp = path + '.tmp.png'
    img.save(tmp)
    os.replace(tmp, path)  # a killed run never leaves a half-written mask


def _crf_job(args):
    img_path, probs, classes, crf_cfg = args
    image = mmcv.imread(img_path, channel_order='rgb')
    return dense_crf(image, probs, classes, **crf_cfg).argmax(0)


class MIoU:
    """Accumulates intersection / union per class with mmseg's IoUMetric rules."""

    def __init__(self, num_classes, ignore_index=255):
        self.num_classes, self.ignore_index = num_classes, ignore_index
        self.areas = [torch.zeros(num_classes, dtype=torch.float64) for _ in range(4)]

    def add(self, pred, label):
        areas = IoUMetric.intersect_and_union(torch.as_tensor(pred), torch.as_tensor(label),
                                              self.num_classes, self.ignore_index)
        for acc, a in zip(self.areas, areas):
            acc += a.double()

    def value(self):
        iou = IoUMetric.total_area_to_metrics(*self.areas, metrics=['mIoU'])['IoU']
        return float(np.nanmean(np.asarray(iou)) * 100)


def make_pseudo_masks(cfg, checkpoint, out_dir, ann_file=None, mask_dir=None,
                      labels_file=None, data_root=None, size=None, flip=False, scales=None,
                      crf=False, workers=1, save_scores=False, device='cpu', overwrite=False,
                      progress=True):
    """Write the masks; returns ``dict(miou, images, seconds, images_per_s)``."""
    from mmseg.apis import init_model
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    dataset = build_dataset(cfg, ann_file, mask_dir, labels_file, data_root)
    model = init_model(cfg, checkpoint, device=device)
    model.test_cfg.update(output='patch', use_gt_labels=True, flip=flip, crf=None)
    if size:
        model.test_cfg.size = tuple(size)
    if scales:
        model.test_cfg.scales = tuple(scales)
    palette = dataset.metainfo['palette']
    os.makedirs(out_dir, exist_ok=True)
    crf_cfg = dict(CRF_DEFAULTS, **(crf if isinstance(crf, dict) else {}))
    pool = get_context('spawn').Pool(workers) if crf and workers > 1 else None
    metric = MIoU(model.num_classes) if mask_dir else None
    pending, t0 = [], time.perf_counter()
    bar = ProgressBar(len(dataset)) if progress else None

    def finish(path, pred, gt):  # only reached for masks not written yet (or --overwrite)
        save_palette_png(path, pred, palette)
        if metric is not None:
            metric.add(pred, gt)

    for idx in range(len(dataset)):
        info = dataset.get_data_info(idx)
        path = osp.join(out_dir, info['img_id'] + '.png')
        if osp.isfile(path) and not overwrite:
            if metric is not None:  # score the mask written by an earlier run
                gt = np.array(Image.open(info['seg_map_path']))
                metric.add(np.array(Image.open(path)), gt)
            bar and bar.update()
            continue
        data = pseudo_collate([dataset[idx]])
        with torch.no_grad():
            res = model.test_step(data)[0]
        probs = res.seg_logits.data.float()
        gt = res.gt_sem_seg.data[0].cpu().numpy() if metric is not None else None
        if save_scores:
            np.save(osp.join(out_dir, info['img_id'] + '.npy'), probs.cpu().numpy().astype(
                np.float16))
        if not crf:
            finish(path, res.pred_sem_seg.data[0].cpu().numpy(), gt)
        else:
            labels = data['data_samples'][0].gt_image_labels
            soft = model._masked_softmax(probs, labels.to(probs.device)).cpu().numpy()
            job = (info['img_path'], soft, labels.nonzero()[:, 0].tolist(), crf_cfg)
            if pool is None:
                finish(path, _crf_job(job), gt)
            else:
                pending.append((path, gt, pool.apply_async(_crf_job, (job,))))
                while pending and (pending[0][2].ready() or len(pending) > 4 * workers):
                    p, g, r = pending.pop(0)
                    finish(p, r.get(), g)
        bar and bar.update()
    for p, g, r in pending:
        finish(p, r.get(), g)
    if pool is not None:
        pool.close()
        pool.join()
    seconds = time.perf_counter() - t0
    out = dict(miou=metric.value() if metric else None, images=len(dataset), seconds=seconds,
               images_per_s=len(dataset) / seconds)
    if progress:
        print()
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--ann-file', help="split list (default: the training set's)")
    parser.add_argument('--mask-dir', help='ground-truth masks (relative to data_root) to '
                        'report mIoU')
    parser.add_argument('--labels-file', help="image-label file (default: the training set's)")
    parser.add_argument('--data-root')
    parser.add_argument('--size', type=int, nargs=2, help='inference size h w (default: config)')
    parser.add_argument('--flip', action='store_true')
    parser.add_argument('--scales', type=float, nargs='+')
    parser.add_argument('--crf', action='store_true', help='refine with DenseCRF')
    parser.add_argument('--workers', type=int, default=1, help='CRF worker processes')
    parser.add_argument('--save-scores', action='store_true')
    parser.add_argument('--overwrite', action='store_true', help='redo masks already written')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    args = parser.parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    out = make_pseudo_masks(cfg, args.checkpoint, args.out_dir, args.ann_file, args.mask_dir,
                            args.labels_file, args.data_root, args.size, args.flip, args.scales,
                            args.crf, args.workers, args.save_scores, args.device,
                            args.overwrite)
    miou = 'n/a (no masks)' if out['miou'] is None else f"{out['miou']:.2f}"
    print(f"{out['images']} pseudo masks in {args.out_dir}: mIoU {miou}, "
          f"{out['images_per_s']:.2f} images/s")
    return out


if __name__ == '__main__':
    main()
