"""The pretraining world shares no class, shape, texture, colour or background
generator with the demo sets, and is made as its definitions say."""
import numpy as np

from apc_lab import appearance, demo_data, pretrain_data
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


def test_the_scenes_are_not_the_demo_sets_backgrounds():
    """Every generator of the demo sets' scenes (``appearance.background``,
    the hard set's textured one) is another function than the pretraining
    world's ``scene``, which calls none of them."""
    import inspect
    source = inspect.getsource(pretrain_data)
    assert 'background(' not in source and '_textured_background' not in source
    assert pretrain_data.scene is not appearance.background
    rng = np.random.default_rng(0)
    img = pretrain_data.scene(rng, 64, 64)
    assert img.shape == (64, 64, 3)
    # the demo's scenes are weakly coloured (channels within ~15 of each other
    # before blotches); the world's blend two free colours
    spreads = [np.ptp(pretrain_data.scene(rng, 32, 32).mean((0, 1))) for _ in range(50)]
    assert np.median(spreads) > 30


def test_the_set_is_seeded_and_tagged_by_what_is_drawn():
    images, tags = pretrain_data.make_pretrain_set(48, seed=3)
    again, _ = pretrain_data.make_pretrain_set(48, seed=3)
    other, _ = pretrain_data.make_pretrain_set(48, seed=4)
    assert images.shape == (48, 96, 96, 3) and images.dtype == np.uint8
    assert tags.shape == (48, 24) and set(np.unique(tags)) <= {0.0, 1.0}
    assert 1 <= tags.sum(1).min() and tags.sum(1).max() <= 3
    assert np.array_equal(images, again) and not np.array_equal(images, other)
    rng = np.random.default_rng(1)
    for _ in range(20):  # the tags are the classes visible in the mask
        img, mask, present = pretrain_data.make_pretrain_image(rng)
        assert [c + 1 for c in present] == sorted(set(np.unique(mask).tolist()) - {0})


def test_each_class_is_drawn_in_its_colours():
    white = [i for i, name in enumerate(pretrain_data.CLASSES)
             if pretrain_data.LOOKS[name]['colour'][0] == (220, 220, 220)]
    brown = [i for i, name in enumerate(pretrain_data.CLASSES)
             if pretrain_data.LOOKS[name]['colour'][0] == (100, 50, 10)]
    assert white and brown
    rng = np.random.default_rng(0)
    pixels = {c: [] for c in white + brown}
    while any(len(v) < 3 for v in pixels.values()):
        img, mask, present = pretrain_data.make_pretrain_image(rng)
        for c in present:
            if c in pixels:
                pixels[c].append(img[mask == c + 1].astype(int))
    w = np.concatenate([p for c in white for p in pixels[c]])
    b = np.concatenate([p for c in brown for p in pixels[c]])
    assert np.median(w.min(1)) >= 180  # near-white (the texture moves it by up to 70)
    assert np.median(b[:, 0] - b[:, 2]) > 50  # red well above blue: brown
