"""A small, deterministic, generated weak-label data set in VOC layout.

Images hold 1-3 object classes (several instances) on varied textured
backgrounds; the classes differ in shape and texture. Written:
``JPEGImages/*.jpg``, ``SegmentationClass/*.png`` (masks, evaluation only),
``ImageSets/Segmentation/{train,val}.txt`` and ``cls_labels.json``
(image id -> class names, the only supervision training uses).

Command line: ``tools/dataset_converters/make_demo_data.py``.
"""
import json
import os
import os.path as osp

import cv2
import numpy as np

CLASSES = ('background', 'disc', 'square', 'triangle')


def _background(rng, h, w):
    # Varied but weakly coloured scenes (grey levels, gradients, blotches), so
    # that colour and texture, not position, tell the objects apart.
    base = rng.uniform(50, 200) + rng.uniform(-15, 15, size=3)
    ramp = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(-40, 40)
    blotch = cv2.GaussianBlur(rng.normal(0, 40, (h, w, 1)), (0, 0), rng.uniform(3, 8))
    noise = rng.normal(0, rng.uniform(3, 12), (h, w, 1))
    return base + ramp + blotch[..., None].reshape(h, w, 1) + noise


def _texture(rng, cls, h, w):
    yy, xx = np.mgrid[:h, :w]
    if cls == 1:  # disc: warm, smooth
        colour, pattern = rng.uniform([180, 40, 20], [255, 110, 80]), 0
    elif cls == 2:  # square: green, striped
        colour = rng.uniform([20, 140, 20], [90, 230, 90])
        pattern = 40 * np.sign(np.sin((xx + yy) / rng.uniform(2, 4)))
    else:  # triangle: blue, checkered
        colour = rng.uniform([20, 30, 150], [90, 100, 255])
        period = rng.integers(3, 6)
        pattern = 35 * (((xx // period) + (yy // period)) % 2 * 2 - 1)
    return np.broadcast_to(colour, (h, w, 3)) + np.asarray(pattern, float)[..., None]


def _shape_mask(rng, cls, h, w):
    mask = np.zeros((h, w), np.uint8)
    r = int(rng.uniform(0.1, 0.22) * min(h, w))
    cy, cx = rng.integers(r, h - r), rng.integers(r, w - r)
    if cls == 1:
        cv2.circle(mask, (int(cx), int(cy)), r, 1, -1)
    elif cls == 2:
        cv2.rectangle(mask, (int(cx - r), int(cy - r)), (int(cx + r), int(cy + r)), 1, -1)
    else:
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]], np.int32)
        cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def make_image(rng, size_range=(96, 160)):
    h, w = (int(v) for v in rng.integers(*size_range, size=2))
    img = _background(rng, h, w)
    label = np.zeros((h, w), np.uint8)
    classes = rng.choice([1, 2, 3], size=rng.integers(1, 4), replace=False)
    for cls in classes:
        for _ in range(rng.integers(1, 3)):
            m = _shape_mask(rng, cls, h, w)
            img[m] = _texture(rng, cls, h, w)[m]
            label[m] = cls
    present = sorted(set(np.unique(label).tolist()) - {0})
    return np.clip(img, 0, 255).astype(np.uint8), label, present


def generate(out_dir, num_train=200, num_val=50, seed=0):
    rng = np.random.default_rng(seed)
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(osp.join(out_dir, sub), exist_ok=True)
    labels, splits = {}, {'train': [], 'val': []}
    for i in range(num_train + num_val):
        split = 'train' if i < num_train else 'val'
        img_id = f'{split}_{i:05d}'
        img, mask, present = make_image(rng)
        cv2.imwrite(osp.join(out_dir, 'JPEGImages', img_id + '.jpg'), img[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(osp.join(out_dir, 'SegmentationClass', img_id + '.png'), mask)
        labels[img_id] = [CLASSES[c] for c in present]
        splits[split].append(img_id)
    for split, ids in splits.items():
        with open(osp.join(out_dir, 'ImageSets/Segmentation', split + '.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    with open(osp.join(out_dir, 'cls_labels.json'), 'w') as f:
        json.dump(labels, f, indent=0)
    return out_dir
