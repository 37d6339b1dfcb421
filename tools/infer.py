"""Segment a folder of your own images with an APC checkpoint.

For every image writes ``<out>/<name>_prediction.png`` (the decode head's
segmentation over the image) and ``<out>/<name>_heatmaps.png`` (the patch
classifier's score per predicted class, APC Fig. 5), and the label map as a
palette PNG ``<out>/<name>.png``. No image labels are needed.

    python tools/infer.py configs/apc/apc_vitb16_voc.py ckpt.pth images/ --out out/
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import mmcv  # noqa: E402
import torch  # noqa: E402
from mmengine.utils import ProgressBar  # noqa: E402

import apc_mmseg  # noqa: E402,F401
from apc_mmseg.visualization import prediction_panel, save_rgb, score_panel  # noqa: E402
from make_pseudo_masks import save_palette_png  # noqa: E402

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def list_images(path):
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'no image or folder at {path}')
    files = sorted(osp.join(path, f) for f in os.listdir(path)
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise ValueError(f'{path} holds no image ({", ".join(IMAGE_SUFFIXES)})')
    return files


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('images', help='an image or a folder of images')
    parser.add_argument('--out', default='work_dirs/infer')
    parser.add_argument('--device', default='cuda:0' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args(argv)
    from mmseg.apis import inference_model, init_model
    files = list_images(args.images)
    model = init_model(args.config, args.checkpoint, device=args.device)
    names, palette = model.dataset_meta['classes'], model.dataset_meta['palette']
    os.makedirs(args.out, exist_ok=True)
    bar = ProgressBar(len(files))
    for path in files:
        image = mmcv.imread(path, channel_order='rgb')
        if image is None:
            raise ValueError(f'{path}: cannot be read as an image')
        stem = osp.splitext(osp.basename(path))[0]
        model.test_cfg.update(output='decode')
        pred = inference_model(model, path).pred_sem_seg.data[0].cpu().numpy()
        model.test_cfg.update(output='patch', use_gt_labels=False)
        scores = inference_model(model, path).seg_logits.data.cpu().numpy()
        model.test_cfg.update(output='decode')
        save_palette_png(osp.join(args.out, stem + '.png'), pred, palette)
        save_rgb(osp.join(args.out, stem + '_prediction.png'),
                 prediction_panel(image, pred, None, palette))
        present = sorted(set(pred.flatten().tolist()) - {0}) or [0]
        save_rgb(osp.join(args.out, stem + '_heatmaps.png'),
                 score_panel(image, scores, present, names))
        bar.update()
    print(f'\n{len(files)} image(s) -> {args.out}')


if __name__ == '__main__':
    main()
