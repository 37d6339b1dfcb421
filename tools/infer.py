#!/usr/bin/env python
"""Segment a folder of your own images with an APC checkpoint.

For every image (of a folder and its sub-folders, mirrored under --out) writes
the label map as a palette PNG ``<out>/<name>.png``,
``<name>_prediction.png`` (the segmentation over the image) and
``<name>_heatmaps.png`` (the patch classifier's score per predicted class,
APC Fig. 5). No image labels are needed. Inference options are
``model.test_cfg``'s: set them with --cfg-options or the flags below.
--out records what the tool wrote there (infer_outputs.json): --overwrite
replaces only those files, and a folder holding the record is never read as
input.

    python tools/infer.py configs/apc/apc_vitb16_voc.py ckpt.pth images/ --out out/ --crf
"""
import argparse
import os

import mmcv
import torch
from mmengine.config import Config, DictAction
from mmengine.utils import ProgressBar
from mmseg.apis import inference_model, init_model

import apc_mmseg  # noqa: F401  (registers the components)
from apc_mmseg.apis import crf_job, patch_scores
from apc_mmseg.apis.infer_outputs import list_images, output_stems, record_outputs
from apc_mmseg.postprocessing import CRFPool, crf_label_map
from apc_mmseg.utils.image_files import DEFAULT_MAX_PIXELS, read_checked_image
from apc_mmseg.visualization import prediction_panel, save_label_png, save_rgb, score_panel


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', help='an image or a folder of images')
    parser.add_argument('--out', default='work_dirs/infer',
                        help='outputs mirror the input folder; a new or empty folder, or one '
                        'an earlier run recorded (infer_outputs.json); never read as input')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace the outputs of an earlier run (those its record lists)')
    parser.add_argument('--size', type=int, nargs=2, help='inference size h w (test_cfg.size)')
    parser.add_argument('--flip', action='store_true', help='average with the mirrored image')
    parser.add_argument('--crf', action='store_true',
                        help="refine with DenseCRF (ViT-PCM's settings) on the predicted classes")
    parser.add_argument('--crf-workers', type=int, default=1, help='DenseCRF processes')
    parser.add_argument('--max-pixels', type=int, default=DEFAULT_MAX_PIXELS,
                        help='refuse a larger image (W x H, read before decoding; memory '
                        'grows ~100 bytes a pixel); 0: no limit (default: %(default)s)')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, key=value')
    args = parser.parse_args(argv)
    root, files = list_images(args.images)
    stems = output_stems(root, files, args.out, args.overwrite)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.model.test_cfg.update(output='decode')
    if args.size:
        cfg.model.test_cfg.size = tuple(args.size)
    if args.flip:
        cfg.model.test_cfg.flip = True
    model = init_model(cfg, args.checkpoint, device=args.device)
    # Listed before the first is written (after the checkpoint has loaded, so
    # a wrong one leaves --out as it was): --overwrite replaces only these.
    record_outputs(args.out, stems)
    names, palette = model.dataset_meta['classes'], model.dataset_meta['palette']
    bar = ProgressBar(len(files))
    with CRFPool(args.crf_workers if args.crf else 0) as pool:
        for path, stem in zip(files, stems):
            write_outputs(model, path, stem, names, palette, pool if args.crf else None,
                          args.max_pixels or None)
            bar.update()
    print(f'\n{len(files)} image(s) -> {args.out}')


def write_outputs(model, path, stem, names, palette, crf_pool=None,
                  max_pixels=DEFAULT_MAX_PIXELS):
    # checked (header, pixel count) before anything decodes it, and named if
    # the decoder fails; decoded as before (mmcv's cv2 reader, RGB)
    image = read_checked_image(path, lambda p: mmcv.imread(p, channel_order='rgb'),
                               max_pixels, '--max-pixels')
    os.makedirs(os.path.dirname(stem) or '.', exist_ok=True)
    result = inference_model(model, path)
    pred = result.pred_sem_seg.data[0].cpu().numpy()
    if crf_pool is not None:
        pred = list(crf_pool.map(crf_label_map, [crf_job(result, path)]))[0]
    scores = patch_scores(model, path).cpu().numpy()
    save_label_png(stem + '.png', pred, palette)
    save_rgb(stem + '_prediction.png', prediction_panel(image, pred, None, names, palette))
    present = sorted(set(pred.flatten().tolist()) - {0}) or [0]
    save_rgb(stem + '_heatmaps.png', score_panel(image, scores, present, names))


if __name__ == '__main__':
    main()
