"""The pretraining world: a generated image-classification set, the ImageNet
of the demo sets.

24 classes, one per image (1-2 instances, larger than the demo's objects), on
the demo's kind of background: every pair of 6 shapes (star, crescent,
hexagon, arrow, ell, bowtie) and 4 textures (dots, speckle, waves, gradient),
each in one of 4 colour ranges (cyan, pink, brown, white) that cycles with
shape and texture, so that no single cue names the class. No shape, texture
or colour range of the demo or hard set (``demo_data.LOOKS``) appears here.
Made in memory, seeded: ``tools/pretrain_demo_vit.py`` trains the demo's ViT
on it (``apc_lab.pretrain``).
"""
from typing import Tuple

import numpy as np

from .appearance import background, paint, shape_mask

PRETRAIN_SHAPES = ('star', 'crescent', 'hexagon', 'arrow', 'ell', 'bowtie')
PRETRAIN_TEXTURES = ('dots', 'speckle', 'waves', 'gradient')
PRETRAIN_COLOURS = (((20, 170, 190), (80, 240, 255)),  # cyan
                    ((225, 120, 170), (255, 180, 230)),  # pink
                    ((100, 50, 10), (150, 90, 40)),  # brown
                    ((220, 220, 220), (255, 255, 255)))  # white
LOOKS = {f'{texture}_{shape}': dict(shape=shape, texture=texture,
                                    colour=PRETRAIN_COLOURS[(i + j) % len(PRETRAIN_COLOURS)])
         for i, shape in enumerate(PRETRAIN_SHAPES)
         for j, texture in enumerate(PRETRAIN_TEXTURES)}
CLASSES = tuple(LOOKS)


def make_pretrain_image(rng: np.random.Generator, cls: int,
                        size: int = 96) -> Tuple[np.ndarray, np.ndarray]:
    """One ``[size, size, 3]`` uint8 RGB image of class ``cls`` and its
    ``[size, size]`` uint8 mask (0 the scene, ``cls + 1`` the object)."""
    look = LOOKS[CLASSES[cls]]
    img = background(rng, size, size)
    label = np.zeros((size, size), np.uint8)
    for _ in range(rng.integers(1, 3)):
        mask = shape_mask(rng, look['shape'], size, size, (0.18, 0.36))
        img[mask] = paint(rng, look['texture'], look['colour'], size, size)[mask]
        label[mask] = cls + 1
    return np.clip(img, 0, 255).astype(np.uint8), label


def make_pretrain_set(num_images: int, seed: int = 0,
                      size: int = 96) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``num_images`` images ``[N, size, size, 3]`` (uint8 RGB), their class
    ids ``[N]`` (the classes in turn: balanced) and masks ``[N, size, size]``."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num_images) % len(CLASSES)
    images, masks = zip(*(make_pretrain_image(rng, int(c), size) for c in labels))
    return np.stack(images), labels, np.stack(masks)
