"""Prepare PASCAL VOC 2012 (+SBD) for weak-label training.

Writes the image-label file (``cls_labels.json``: image id -> class names)
from the ``SegmentationClassAug`` masks, or from ToCo's
``cls_labels_onehot.npy``; writes ``ImageSets/Segmentation/train_aug.txt``
when missing (every id with an augmented mask, minus the val ids); checks
that every listed id has an image and that every mask value is a class id
(0..20) or 255. Errors name the file. Relative paths (the mask folder,
ToCo's file, the output) are taken from the data root.

Command line: ``tools/dataset_converters/prepare_voc.py``.
"""
import json
import os
import os.path as osp

import mmengine
import numpy as np
from PIL import Image

from ..weak_seg_dataset import read_image_labels
from ..weak_voc_dataset import WeakVOCDataset

CLASSES = WeakVOCDataset.METAINFO['classes']
SPLITS = ('train_aug', 'train', 'val')


def read_ids(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def mask_classes(path, num_classes=len(CLASSES)):
    """Foreground class ids in a palette/label PNG; errors name the file."""
    try:
        mask = np.array(Image.open(path))
    except Exception as e:  # noqa: BLE001 - report which file is broken
        raise ValueError(f'{path}: cannot read the mask ({e})') from e
    if mask.ndim != 2:
        raise ValueError(f'{path}: expected a single-channel label PNG, got shape {mask.shape}')
    values = set(np.unique(mask).tolist())
    bad = sorted(v for v in values if v >= num_classes and v != 255)
    if bad:
        raise ValueError(f'{path}: label values {bad} are not class ids 0..{num_classes - 1} '
                         'or 255')
    return sorted(values - {0, 255})


def labels_from_masks(root, mask_dir, ids, nproc=1):
    paths = [osp.join(root, mask_dir, i + '.png') for i in ids]
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise FileNotFoundError(f'{len(missing)} mask(s) missing, e.g. {missing[0]}')
    if nproc > 1:
        found = mmengine.track_parallel_progress(mask_classes, paths, nproc)
    else:
        found = [mask_classes(p) for p in paths]
    return {i: [CLASSES[c] for c in cls] for i, cls in zip(ids, found)}


def prepare(root, mask_dir='SegmentationClassAug', toco_labels=None, out='cls_labels.json',
            nproc=1):
    seg_sets = osp.join(root, 'ImageSets/Segmentation')
    val_ids = read_ids(osp.join(seg_sets, 'val.txt'))
    train_aug = osp.join(seg_sets, 'train_aug.txt')
    if not osp.isfile(train_aug):
        mask_root = osp.join(root, mask_dir)
        if not osp.isdir(mask_root):
            raise FileNotFoundError(f'{train_aug} is missing and so is {mask_root} to derive it')
        val = set(val_ids)
        ids = sorted(f[:-4] for f in os.listdir(mask_root)
                     if f.endswith('.png') and f[:-4] not in val)
        with open(train_aug, 'w') as f:
            f.write('\n'.join(ids) + '\n')
        print(f'wrote {train_aug} ({len(ids)} ids)')
    splits = {s: read_ids(osp.join(seg_sets, s + '.txt')) for s in SPLITS}
    for split, ids in splits.items():
        if not ids:
            raise ValueError(f'{osp.join(seg_sets, split + ".txt")} lists no images')
        missing = [i for i in ids if not osp.isfile(osp.join(root, 'JPEGImages', i + '.jpg'))]
        if missing:
            raise FileNotFoundError(
                f'{len(missing)} image(s) of {split}.txt missing from '
                f'{osp.join(root, "JPEGImages")}, e.g. {missing[0]}.jpg')
    all_ids = sorted(set().union(*splits.values()))
    if toco_labels:
        toco_labels = osp.join(root, toco_labels)  # an absolute path stays as it is
        if not osp.isfile(toco_labels):
            raise FileNotFoundError(f'{toco_labels}: no such file (ToCo labels; relative '
                                    'paths are taken from the data root)')
        labels = {k: [CLASSES[c] for c in v]
                  for k, v in read_image_labels(toco_labels, CLASSES).items()}
        # ToCo's file has no val labels; take those from the val masks.
        need = [i for i in all_ids if i not in labels]
        labels.update(labels_from_masks(root, 'SegmentationClass', need, nproc) if need else {})
    else:
        labels = labels_from_masks(root, mask_dir, all_ids, nproc)
    out_path = osp.join(root, out)  # an absolute path stays as it is
    with open(out_path, 'w') as f:
        json.dump({i: labels[i] for i in all_ids}, f, indent=0)
    counts = {s: len(v) for s, v in splits.items()}
    print(f'wrote {out_path}: labels of {len(all_ids)} images; splits {counts}')
    return out_path
