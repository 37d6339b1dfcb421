"""The pretraining world shares no class, shape, texture or colour with the
demo sets, and is made as its definitions say."""
import numpy as np

from apc_lab import demo_data, pretrain_data
from apc_lab.appearance import SHAPES, TEXTURES


def overlap(a, b):
    """Whether two RGB boxes (low, high) share a colour."""
    return all(a[0][c] <= b[1][c] and b[0][c] <= a[1][c] for c in range(3))


def test_no_class_shape_texture_or_colour_of_the_demo_sets():
    demo_names = set(demo_data.CLASSES[1:]) | set(demo_data.HARD_CLASSES[1:])
    demo = [demo_data.LOOKS[name] for name in sorted(demo_names)]
    world = list(pretrain_data.LOOKS.values())
    assert len(world) == len(pretrain_data.CLASSES) == 24
    assert not demo_names & set(pretrain_data.CLASSES)
    assert not {look['shape'] for look in world} & {look['shape'] for look in demo}
    assert not {look['texture'] for look in world} & {look['texture'] for look in demo}
    clashes = [(w, d) for w in world for d in demo if overlap(w['colour'], d['colour'])]
    assert not clashes
    # the check above would see a clash: the disc's range against itself, and one
    # channel apart is enough to be apart
    assert overlap(demo_data.WARM, demo_data.WARM)
    assert not overlap(((0, 0, 0), (10, 10, 10)), ((0, 0, 11), (10, 10, 20)))
    for look in world + demo:  # every name is drawn by the painter
        assert look['shape'] in SHAPES and look['texture'] in TEXTURES


def test_the_set_is_balanced_seeded_and_drawn_in_its_colours():
    images, labels, masks = pretrain_data.make_pretrain_set(48, seed=3)
    again, _, _ = pretrain_data.make_pretrain_set(48, seed=3)
    other, _, _ = pretrain_data.make_pretrain_set(48, seed=4)
    assert images.shape == (48, 96, 96, 3) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [2] * 24
    for label, mask in zip(labels, masks):  # the scene (0) and the image's class + 1
        assert set(np.unique(mask)) == {0, label + 1}
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    # a white class is brighter than the (grey) scene around it, a brown one darker
    white = [i for i, name in enumerate(pretrain_data.CLASSES)
             if pretrain_data.LOOKS[name]['colour'][0] == (220, 220, 220)]
    brown = [i for i, name in enumerate(pretrain_data.CLASSES)
             if pretrain_data.LOOKS[name]['colour'][0] == (100, 50, 10)]
    assert white and brown
    rng = np.random.default_rng(0)
    w, w_mask = pretrain_data.make_pretrain_image(rng, white[0])
    b, b_mask = pretrain_data.make_pretrain_image(rng, brown[0])
    w, b = w[w_mask > 0].astype(int), b[b_mask > 0].astype(int)  # the objects' pixels
    assert np.median(w.min(1)) >= 180  # near-white (the texture moves it by up to 70)
    assert np.median(b[:, 0] - b[:, 2]) > 50  # red well above blue: brown
