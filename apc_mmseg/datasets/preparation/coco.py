"""Prepare COCO 2014 for weak-label training and evaluation.

From ``annotations/instances_{train,val}2014.json`` (read with pycocotools)
writes, under the COCO root:

- ``SegmentationClass/{train,val}2014/<image>.png``: ids 0..80 (0 background,
  k = the k-th category id in ascending order), 255 ignore;
- ``cls_labels.json``: image -> class names (every category annotated in it);
- ``train.txt`` / ``val.txt``: the images with at least one annotation
  (82,081 / 40,137 for the full set).

Overlap rule: objects are painted from the largest area to the smallest, so
a smaller object lying on a larger one stays visible; crowd regions are
painted 255 first and stay ignored only where no single object covers them.
Runs in ``--nproc`` processes with a progress bar; PNGs already written are
kept, so an interrupted run resumes.

Command line: ``tools/dataset_converters/prepare_coco.py``.
"""
import json
import os
import os.path as osp

import mmengine
import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from ..weak_coco_dataset import COCO_THINGS


def paint(job):
    """Rasterise one image's annotations; returns the PNG path."""
    out_path, h, w, objects = job
    if osp.isfile(out_path):
        try:
            with Image.open(out_path) as im:
                if im.size == (w, h):
                    return out_path
        except OSError:
            pass  # a half-written PNG from an interrupted run: write it again
    label = np.zeros((h, w), np.uint8)
    for idx, crowd, _, segm in sorted(objects, key=lambda o: (not o[1], -o[2])):
        if isinstance(segm, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segm, h, w))
        elif isinstance(segm['counts'], list):
            rle = mask_utils.frPyObjects(segm, h, w)
        else:
            rle = segm
        label[mask_utils.decode(rle).astype(bool)] = 255 if crowd else idx
    tmp = out_path + '.tmp.png'
    Image.fromarray(label).save(tmp)
    os.replace(tmp, out_path)  # never leave a half-written PNG under the real name
    return out_path


def prepare_split(root, split, nproc=1):
    ann_file = osp.join(root, 'annotations', f'instances_{split}2014.json')
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'annotation file not found: {ann_file}')
    coco = COCO(ann_file)
    cat_ids = sorted(coco.getCatIds())
    if len(cat_ids) != len(COCO_THINGS):
        raise ValueError(f'{ann_file}: {len(cat_ids)} categories, expected {len(COCO_THINGS)}')
    index = {c: i + 1 for i, c in enumerate(cat_ids)}
    out_dir = osp.join(root, 'SegmentationClass', f'{split}2014')
    os.makedirs(out_dir, exist_ok=True)
    jobs, labels, ids = [], {}, []
    for img_id in sorted(coco.getImgIds()):
        info = coco.imgs[img_id]
        anns = coco.imgToAnns.get(img_id, [])
        if not anns:
            continue
        stem = osp.splitext(info['file_name'])[0]
        objects = [(index[a['category_id']], bool(a.get('iscrowd', 0)), a.get('area', 0),
                    a['segmentation']) for a in anns]
        jobs.append((osp.join(out_dir, stem + '.png'), info['height'], info['width'], objects))
        labels[stem] = sorted({COCO_THINGS[o[0] - 1] for o in objects})
        ids.append(stem)
    if nproc > 1:
        mmengine.track_parallel_progress(paint, jobs, nproc)
    else:
        mmengine.track_progress(paint, jobs)
    with open(osp.join(root, f'{split}.txt'), 'w') as f:
        f.write('\n'.join(ids) + '\n')
    return labels


def prepare(root, splits=('train', 'val'), nproc=1):
    labels = {}
    for split in splits:
        labels.update(prepare_split(root, split, nproc))
    with open(osp.join(root, 'cls_labels.json'), 'w') as f:
        json.dump(labels, f, indent=0)
    print(f'wrote label PNGs, split lists and cls_labels.json ({len(labels)} images) '
          f'under {root}')
