"""The pretraining world: a generated multi-label image set, the ImageNet of
the demo sets, that shares nothing with them.

24 classes: every pair of 6 shapes (star, crescent, hexagon, arrow, ell,
bowtie) and 4 textures (dots, speckle, waves, gradient), each in one of 4
colour ranges (cyan, pink, brown, white) that cycles with shape and texture,
so that no single cue names a class. 1-3 classes an image, one object each,
on **its own scenes** (``scene``: coloured wave fields crossed by strokes),
not the demo sets' backgrounds (``appearance.background``). No shape,
texture, colour range or background generator of the demo or hard set
(``demo_data.LOOKS``) appears here (``tests/test_lab/test_pretrain_data.py``).
The labels are the image's tags (multi-hot), never masks. Made in memory,
seeded: ``tools/pretrain_demo_vit.py`` trains the demo's ViT on it
(``apc_lab.pretrain``).
"""
from typing import List, Tuple

import cv2
import numpy as np

from .appearance import paint, shape_mask

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
PER_IMAGE = (1, 4)  # classes an image: 1-3
RADIUS = (0.14, 0.28)


def scene(rng, h: int, w: int) -> np.ndarray:
    """A ``[h, w, 3]`` float scene of the pretraining world: two random
    colours blended by a sum of two plane waves, crossed by 2-5 straight
    strokes of random colour and width."""
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    field = sum(np.sin(2 * np.pi * rng.uniform(0.5, 3) * (np.cos(a) * xx + np.sin(a) * yy)
                       + rng.uniform(0, 2 * np.pi)) for a in rng.uniform(0, np.pi, 2))
    t = (field / 4 + 0.5)[..., None]
    a, b = rng.uniform(30, 225, size=(2, 3))
    img = np.ascontiguousarray(a * t + b * (1 - t))
    for _ in range(rng.integers(2, 6)):
        p, q = rng.integers(0, [w, h], size=(2, 2))
        cv2.line(img, tuple(int(v) for v in p), tuple(int(v) for v in q),
                 rng.uniform(0, 255, 3).tolist(), int(rng.integers(1, 4)))
    return img


def make_pretrain_image(rng: np.random.Generator, size: int = 96
                        ) -> Tuple[np.ndarray, np.ndarray, List[int]]:
    """One ``[size, size, 3]`` uint8 RGB image, its ``[size, size]`` uint8
    mask (0 the scene, ``c + 1`` class ``c``: for tests, never trained on)
    and its classes (the tags)."""
    img = scene(rng, size, size)
    label = np.zeros((size, size), np.uint8)
    classes = sorted(rng.choice(len(CLASSES), size=rng.integers(*PER_IMAGE), replace=False))
    for cls in classes:
        look = LOOKS[CLASSES[cls]]
        mask = shape_mask(rng, look['shape'], size, size, RADIUS)
        img[mask] = paint(rng, look['texture'], look['colour'], size, size)[mask]
        label[mask] = cls + 1
    # an object covered by a later one is no longer in the image
    present = sorted(int(c) - 1 for c in set(np.unique(label).tolist()) - {0})
    return np.clip(img, 0, 255).astype(np.uint8), label, present


def make_pretrain_set(num_images: int, seed: int = 0,
                      size: int = 96) -> Tuple[np.ndarray, np.ndarray]:
    """``num_images`` images ``[N, size, size, 3]`` (uint8 RGB) and their
    tags ``[N, 24]`` (float multi-hot)."""
    rng = np.random.default_rng(seed)
    images, tags = [], np.zeros((num_images, len(CLASSES)), np.float32)
    for i in range(num_images):
        img, _, present = make_pretrain_image(rng, size)
        images.append(img)
        tags[i, present] = 1
    return np.stack(images), tags
