"""The ``photo`` data set: real photographs pasted on real photographs.

A class is *the object of one photograph*: a cut-out of the region of that
photo where the object is (a cat's face and fur, a coffee cup on its saucer,
an astronaut in her suit, a motorcycle, a dahlia), a random part of it,
flipped, rescaled and jittered in brightness (a quarter of them in grey), in
a random smooth blob. So neither the outline (every class has the same blob
shapes), nor the colour (jitter and grey copies; the backgrounds are tinted
at random), nor the background (any class on any background) identifies a
class: only the photographed content does, as for an ImageNet class.

Backgrounds are random crops of *other* photographs (brick, grass, gravel,
the Moon, the Hubble deep field, a temple on a hill, a rocket launch pad),
tinted by random channel gains; no background photo shows an object class
and no object photo is a background. Every photo ships inside a pip package
(scikit-image's and scikit-learn's sample images, read from their files:
nothing is downloaded). 128 x 128 images, 1-2 classes, one object each.
"""
import functools
import importlib.util
import os.path as osp

import cv2
import numpy as np

CLASSES = ('background', 'cat', 'coffee', 'astronaut', 'motorcycle', 'flower')


def _package_dir(name: str) -> str:
    # The files only: importing scikit-learn would load SciPy for nothing.
    spec = importlib.util.find_spec(name)
    if spec is None:
        raise ImportError(f'the photo data set reads sample photos of {name}: '
                          f'pip install -r requirements-dev.txt')
    return spec.submodule_search_locations[0]


_SKIMAGE = osp.join(_package_dir('skimage'), 'data')
_SKLEARN = osp.join(_package_dir('sklearn'), 'datasets', 'images')
# class -> (photo file, object box as fractions y0, y1, x0, x1 of the photo)
OBJECT_PHOTOS = dict(
    cat=(osp.join(_SKIMAGE, 'chelsea.png'), (0.0, 1.0, 0.05, 0.95)),
    coffee=(osp.join(_SKIMAGE, 'coffee.png'), (0.0, 0.95, 0.12, 0.72)),
    astronaut=(osp.join(_SKIMAGE, 'astronaut.png'), (0.1, 1.0, 0.1, 0.78)),
    motorcycle=(osp.join(_SKIMAGE, 'motorcycle_left.png'), (0.29, 0.91, 0.17, 0.95)),
    flower=(osp.join(_SKLEARN, 'flower.jpg'), (0.18, 0.83, 0.27, 0.68)))
BACKGROUND_PHOTOS = tuple(osp.join(_SKIMAGE, n) for n in (
    'brick.png', 'grass.png', 'gravel.png', 'moon.png', 'hubble_deep_field.jpg',
    'rocket.jpg')) + (osp.join(_SKLEARN, 'china.jpg'), )
SIZE = 128
RADIUS = (0.2, 0.38)  # of the side: the blob's mean radius


@functools.lru_cache(maxsize=None)
def read_photo(path: str) -> np.ndarray:
    """``[H, W, 3]`` float32 RGB of a sample photo (grey ones as three equal channels)."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'{path}: cannot read the sample photo')
    return img[..., ::-1].astype(np.float32)


def _crop(rng, img: np.ndarray, box, min_side: float) -> np.ndarray:
    """A random crop inside ``box`` (fractions), each side ``min_side``-1 of the box's."""
    h, w = img.shape[:2]
    y0, y1, x0, x1 = int(box[0] * h), int(box[1] * h), int(box[2] * w), int(box[3] * w)
    ch = int((y1 - y0) * rng.uniform(min_side, 1.0))
    cw = int((x1 - x0) * rng.uniform(min_side, 1.0))
    top, left = rng.integers(y0, y1 - ch + 1), rng.integers(x0, x1 - cw + 1)
    crop = img[top:top + ch, left:left + cw]
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def _blob(rng, size: int) -> np.ndarray:
    """A random smooth star-convex blob: an ellipse whose radius varies
    with two low-frequency harmonics; boolean ``[size, size]``."""
    r = rng.uniform(*RADIUS) * size
    cy, cx = rng.uniform(r, size - r, size=2)
    yy, xx = np.mgrid[:size, :size].astype(np.float32)
    angle = np.arctan2(yy - cy, xx - cx)
    aspect, turn = rng.uniform(0.65, 1.0), rng.uniform(0, np.pi)
    radius = r / np.sqrt((np.cos(angle - turn) * aspect) ** 2 + np.sin(angle - turn) ** 2)
    for freq in (2, 3):
        radius *= 1 + rng.uniform(0, 0.12) * np.sin(freq * angle + rng.uniform(0, 2 * np.pi))
    return np.hypot(yy - cy, xx - cx) <= radius * aspect


def _background(rng, size: int) -> np.ndarray:
    photo = read_photo(BACKGROUND_PHOTOS[rng.integers(len(BACKGROUND_PHOTOS))])
    crop = _crop(rng, photo, (0.0, 1.0, 0.0, 1.0), 0.35)
    img = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return img * rng.uniform(0.7, 1.3, size=3).astype(np.float32)  # a random tint


def _object(rng, name: str, size: int) -> np.ndarray:
    path, box = OBJECT_PHOTOS[name]
    crop = _crop(rng, read_photo(path), box, 0.6)
    img = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA) * rng.uniform(0.75, 1.25)
    if rng.random() < 0.25:
        img = np.repeat(img.mean(2, keepdims=True), 3, axis=2)
    return img


def make_photo_image(rng, classes=CLASSES, per_image=(1, 3), size: int = SIZE):
    """One image: ``(uint8 [size, size, 3] RGB, uint8 mask, present class ids)``."""
    img = _background(rng, size)
    label = np.zeros((size, size), np.uint8)
    chosen = rng.choice(np.arange(1, len(classes)), size=rng.integers(*per_image),
                        replace=False)
    for cls in chosen:
        mask = _blob(rng, size)
        img[mask] = _object(rng, classes[cls], size)[mask]
        label[mask] = cls
    present = sorted(set(np.unique(label).tolist()) - {0})
    return np.clip(img, 0, 255).astype(np.uint8), label, present
