"""Small, deterministic, generated weak-label data sets in VOC layout.

``dataset='demo'`` (the README's demo): 3 object classes, 1-3 per image (several
instances) on weakly coloured, varied backgrounds; the classes differ in
shape, colour and texture. ``dataset='hard'``: 6 object classes, 1-4 per image,
smaller objects, and backgrounds carrying stripes and checks like the
objects' own textures; two classes share a colour and differ only in shape
(disc and ring). ``dataset='photo'``: real photographs on real photographs
(``apc_lab.photo_data``). Written: ``JPEGImages/*.jpg``,
``SegmentationClass/*.png`` (masks, evaluation only),
``ImageSets/Segmentation/{train,val,test}.txt``, ``cls_labels.json`` (image
id -> class names, the only supervision training uses) and
``generated.json`` (what made the set, so a changed request remakes it).

A set is written only into a new or empty folder, or one holding a record
of an earlier generation (``check_output_folder``): a folder of the user's
is refused, never overwritten, and no path leads a write out of the folder.

The test split is drawn from its own generator, seeded by ``TEST_SEED +
seed``: no default of the project was chosen on it (val is for choosing),
and the train and val images are the same with or without it.

Command line: ``tools/dataset_converters/make_demo_data.py``.
"""
import functools
import json
import os
import os.path as osp

import cv2
import numpy as np

from .appearance import background, paint, shape_mask
from .photo_data import CLASSES as PHOTO_CLASSES
from .photo_data import make_photo_image

CLASSES = ('background', 'disc', 'square', 'triangle')
HARD_CLASSES = CLASSES + ('ring', 'cross', 'diamond')
# Each object class: its shape, texture and RGB colour range (``appearance``). Ring
# has the disc's colour and texture: only the shape tells them apart.
WARM = ((180, 40, 20), (255, 110, 80))
LOOKS = dict(
    disc=dict(shape='disc', texture='smooth', colour=WARM),
    square=dict(shape='square', texture='diagonal_stripes',
                colour=((20, 140, 20), (90, 230, 90))),
    triangle=dict(shape='triangle', texture='checks', colour=((20, 30, 150), (90, 100, 255))),
    ring=dict(shape='ring', texture='smooth', colour=WARM),
    cross=dict(shape='cross', texture='checks', colour=((120, 20, 140), (200, 80, 220))),
    diamond=dict(shape='diamond', texture='vertical_stripes',
                 colour=((190, 170, 20), (255, 240, 90))))
SHAPE_SETS = dict(demo=dict(classes=CLASSES, radius=(0.1, 0.22), per_image=(1, 4),
                            textured_background=False),
                  hard=dict(classes=HARD_CLASSES, radius=(0.06, 0.13), per_image=(1, 5),
                            textured_background=True))
# Fixed on 2026-12-03 before any figure on a test split was made; never tuned.
TEST_SEED = 7_000_001
# Bumped when a generator's images change, so that sets made before are remade.
GENERATOR_VERSION = 2
RECORD = 'generated.json'
# There from a generation's first write to its record: a generation killed
# half-way leaves the folder marked as ours, for the next run to finish.
UNFINISHED = '.generating.json'


class NotGeneratedFolderError(FileExistsError):
    """An output folder holds files no generation wrote, or a link out of it."""


def _textured_background(rng, h, w):
    # The plain background plus grey patches of stripes or checks: the
    # objects' textures without their colours, so texture alone is no cue.
    img = background(rng, h, w)
    yy, xx = np.mgrid[:h, :w]
    for _ in range(rng.integers(1, 4)):
        y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
        y1, x1 = y0 + rng.integers(h // 4, h // 2), x0 + rng.integers(w // 4, w // 2)
        period = rng.uniform(2, 5)
        if rng.random() < 0.5:
            pattern = 30 * np.sign(np.sin((xx + yy) / period))
        else:
            pattern = 30 * (((xx // int(period + 1)) + (yy // int(period + 1))) % 2 * 2 - 1)
        img[y0:y1, x0:x1] += pattern[y0:y1, x0:x1, None]
    return img


def make_image(rng, size_range=(96, 160), dataset='demo'):
    spec = SHAPE_SETS[dataset]
    h, w = (int(v) for v in rng.integers(*size_range, size=2))
    img = (_textured_background if spec['textured_background'] else background)(rng, h, w)
    label = np.zeros((h, w), np.uint8)
    num_fg = len(spec['classes']) - 1
    classes = rng.choice(np.arange(1, num_fg + 1), size=rng.integers(*spec['per_image']),
                         replace=False)
    for cls in classes:
        look = LOOKS[spec['classes'][cls]]
        for _ in range(rng.integers(1, 3)):
            m = shape_mask(rng, look['shape'], h, w, spec['radius'])
            img[m] = paint(rng, look['texture'], look['colour'], h, w)[m]
            label[m] = cls
    present = sorted(set(np.unique(label).tolist()) - {0})
    return np.clip(img, 0, 255).astype(np.uint8), label, present


# name -> (class names, image maker: rng -> (RGB uint8, mask uint8, present ids))
GENERATED_SETS = dict(
    demo=(CLASSES, functools.partial(make_image, dataset='demo')),
    hard=(HARD_CLASSES, functools.partial(make_image, dataset='hard')),
    photo=(PHOTO_CLASSES, make_photo_image))


def _write(target, img_id, img, mask):
    cv2.imwrite(target('JPEGImages', img_id + '.jpg'), img[..., ::-1],
                [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(target('SegmentationClass', img_id + '.png'), mask)


def _is_record(path) -> bool:
    """Whether ``path`` is a record ``generate`` wrote (``generation_record``'s keys)."""
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and {'dataset', 'seed', 'version'} <= set(record)


def check_output_folder(out_dir) -> None:
    """Refuse ``out_dir`` (``NotGeneratedFolderError``, naming it and what is
    in the way) unless it is absent, empty, or holds the record of an
    earlier generation, finished (``RECORD``) or not (``UNFINISHED``): the
    generator overwrites split lists and ``cls_labels.json``, which in a
    folder of the user's are the user's."""
    if not osp.lexists(out_dir):
        return
    if not osp.isdir(out_dir):
        raise NotGeneratedFolderError(f'{out_dir}: not a folder; a generated set goes into '
                                      f'a new or empty folder')
    entries = sorted(os.listdir(out_dir))
    if not entries or any(_is_record(osp.join(out_dir, name)) for name in (RECORD, UNFINISHED)):
        return
    shown = ', '.join(entries[:5]) + (f' and {len(entries) - 5} more' if len(entries) > 5
                                      else '')
    raise NotGeneratedFolderError(
        f'{out_dir} holds files no generation wrote ({shown}) and no {RECORD}: a generated '
        f'set goes only into a new or empty folder or one generated before; give another '
        f'folder')


def _target(root: str, out_dir: str, *parts) -> str:
    """``out_dir/parts``, refused where a link leads it out of ``out_dir``
    (whose real path is ``root``)."""
    path = osp.join(out_dir, *parts)
    real = osp.realpath(path)
    if osp.commonpath([root, real]) != root:
        raise NotGeneratedFolderError(f'{path} leads out of {out_dir} (to {real}): the '
                                      f'generator writes only inside its folder')
    return path


def _write_json(path, obj, indent) -> None:
    with open(path, 'w') as f:
        json.dump(obj, f, indent=indent)


def generation_record(num_train, num_val, seed, dataset, num_test) -> dict:
    """What ``generate`` writes to ``generated.json``: equal records, equal sets."""
    return dict(dataset=dataset, seed=seed, num_train=num_train, num_val=num_val,
                num_test=num_test, test_seed=TEST_SEED + seed, version=GENERATOR_VERSION)


def is_generated(out_dir, record: dict) -> bool:
    """Whether ``out_dir`` holds the set of ``record`` (``generation_record``)."""
    path = osp.join(out_dir, RECORD)
    if not osp.isfile(path):
        return False
    with open(path) as f:
        return json.load(f) == record


def ensure_generated(out_dir, num_train=200, num_val=50, seed=0, dataset='demo',
                     num_test=100) -> str:
    """``generate`` unless ``out_dir`` already holds exactly that set."""
    if not is_generated(out_dir, generation_record(num_train, num_val, seed, dataset,
                                                   num_test)):
        generate(out_dir, num_train, num_val, seed, dataset, num_test)
    return out_dir


def generate(out_dir, num_train=200, num_val=50, seed=0, dataset='demo', num_test=100):
    """Write ``num_train`` + ``num_val`` images of ``dataset`` (a name of
    ``GENERATED_SETS``) from ``seed``, and ``num_test`` from ``TEST_SEED + seed``,
    into ``out_dir`` (new, empty or generated before: ``check_output_folder``)."""
    if dataset not in GENERATED_SETS:
        raise ValueError(f'generated data set {dataset!r}: choose one of '
                         f'{sorted(GENERATED_SETS)}')
    names, make = GENERATED_SETS[dataset]
    check_output_folder(out_dir)
    record = generation_record(num_train, num_val, seed, dataset, num_test)
    os.makedirs(out_dir, exist_ok=True)
    target = functools.partial(_target, osp.realpath(out_dir), out_dir)
    _write_json(target(UNFINISHED), record, indent=1)
    if osp.lexists(target(RECORD)):
        os.remove(target(RECORD))  # a remake killed half-way must not pass for the old set
    for sub in ('JPEGImages', 'SegmentationClass', 'ImageSets/Segmentation'):
        os.makedirs(target(sub), exist_ok=True)
    labels, splits = {}, {'train': [], 'val': [], 'test': []}
    rng, test_rng = np.random.default_rng(seed), np.random.default_rng(TEST_SEED + seed)
    for i in range(num_train + num_val + num_test):
        split = 'train' if i < num_train else 'val' if i < num_train + num_val else 'test'
        img_id = f'{split}_{i:05d}'
        img, mask, present = make(test_rng if split == 'test' else rng)
        _write(target, img_id, img, mask)
        labels[img_id] = [names[c] for c in present]
        splits[split].append(img_id)
    for split, ids in splits.items():
        with open(target('ImageSets/Segmentation', split + '.txt'), 'w') as f:
            f.write('\n'.join(ids) + '\n')
    _write_json(target('cls_labels.json'), labels, indent=0)
    _write_json(target(RECORD), record, indent=1)
    os.remove(target(UNFINISHED))
    return out_dir
