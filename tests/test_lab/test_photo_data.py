"""The photo set: real photographs on other real photographs, tagged by what
is visible; and what every generated set shares: a test split from its own
seed and a record that remakes a set asked for differently."""
import json
import os.path as osp

import numpy as np
from PIL import Image

from apc_lab import demo_data, photo_data


def test_object_and_background_photos_are_real_files_and_disjoint():
    objects = {path for path, _ in photo_data.OBJECT_PHOTOS.values()}
    backgrounds = set(photo_data.BACKGROUND_PHOTOS)
    assert len(objects) == len(photo_data.CLASSES) - 1 and len(backgrounds) >= 5
    assert not objects & backgrounds
    assert not {osp.basename(p) for p in objects} & {osp.basename(p) for p in backgrounds}
    for path in objects | backgrounds:  # photographs, not drawings: many distinct values
        img = photo_data.read_photo(path)
        assert min(img.shape[:2]) >= 256
        assert len(np.unique(img.reshape(-1, 3).astype(np.uint8), axis=0)) > 100


def test_images_are_tagged_with_the_classes_their_masks_show():
    rng = np.random.default_rng(0)
    counts = np.zeros(len(photo_data.CLASSES))
    for _ in range(30):
        img, mask, present = photo_data.make_photo_image(rng)
        assert img.shape == (128, 128, 3) and img.dtype == np.uint8
        assert present == sorted(set(np.unique(mask).tolist()) - {0})
        assert 1 <= len(present) <= 2
        counts[present] += 1
    assert (counts[1:] > 0).all()  # every class drawn


def test_the_shape_does_not_name_the_class():
    """The blobs come from one generator whatever the class: the same draws
    give the same outline for any class."""
    masks = []
    for name in photo_data.CLASSES[1:3]:
        rng = np.random.default_rng(5)
        img, mask, present = photo_data.make_photo_image(rng, classes=('background', name),
                                                         per_image=(1, 2))
        masks.append(mask > 0)
    assert np.array_equal(*masks)


def test_the_test_split_has_its_own_seed_and_leaves_train_and_val_alone(tmp_path):
    a = demo_data.generate(str(tmp_path / 'a'), 4, 2, seed=0, dataset='photo', num_test=3)
    b = demo_data.generate(str(tmp_path / 'b'), 4, 2, seed=0, dataset='photo', num_test=0)
    for img_id in ['train_00000', 'train_00003', 'val_00005']:
        assert np.array_equal(np.array(Image.open(osp.join(a, 'JPEGImages', img_id + '.jpg'))),
                              np.array(Image.open(osp.join(b, 'JPEGImages', img_id + '.jpg'))))
    split = open(osp.join(a, 'ImageSets/Segmentation/test.txt')).read().split()
    assert split == ['test_00006', 'test_00007', 'test_00008']
    labels = json.load(open(osp.join(a, 'cls_labels.json')))
    assert set(split) <= set(labels)
    record = json.load(open(osp.join(a, 'generated.json')))
    assert record['test_seed'] == demo_data.TEST_SEED and record['dataset'] == 'photo'


def test_a_set_asked_for_differently_is_remade(tmp_path, monkeypatch):
    out = str(tmp_path / 'set')
    demo_data.ensure_generated(out, 3, 1, dataset='demo', num_test=1)
    calls = []
    monkeypatch.setattr(demo_data, 'generate', lambda *a, **k: calls.append(a))
    demo_data.ensure_generated(out, 3, 1, dataset='demo', num_test=1)
    assert calls == []  # the same set: kept
    demo_data.ensure_generated(out, 3, 1, dataset='demo', num_test=2)
    demo_data.ensure_generated(out, 3, 1, dataset='photo', num_test=1)
    assert len(calls) == 2
