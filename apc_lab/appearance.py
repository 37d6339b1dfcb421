"""What generated objects look like: shapes, textures and colour ranges, by name.

The demo sets (``demo_data``) and the pretraining set (``pretrain_data``) each
define their classes as a shape, a texture and a colour range from here, and
share none of the three (a test checks it), as ImageNet shares no class with
the sets a backbone is fine-tuned on.
"""
from typing import Callable, Dict, Tuple

import cv2
import numpy as np

ColourRange = Tuple[Tuple[int, int, int], Tuple[int, int, int]]  # RGB low, high


def _poly(mask, cx, cy, r, points):
    """Fill the polygon of ``points`` (in units of r, around the centre)."""
    pts = np.round(np.array([cx, cy]) + r * np.asarray(points, float)).astype(np.int32)
    cv2.fillPoly(mask, [pts], 1)


def _regular(n, inner=None, turn=-np.pi / 2):
    """The vertices of a regular n-gon (a star when ``inner`` is given)."""
    angles = turn + np.arange(n * (2 if inner else 1)) * np.pi / (n if inner else n / 2)
    radii = np.where(np.arange(len(angles)) % 2, inner, 1.0) if inner else np.ones(n)
    return np.stack([radii * np.cos(angles), radii * np.sin(angles)], 1)


def _disc(mask, cx, cy, r):
    cv2.circle(mask, (cx, cy), r, 1, -1)


def _ring(mask, cx, cy, r):
    cv2.circle(mask, (cx, cy), r, 1, -1)
    cv2.circle(mask, (cx, cy), max(1, r // 2), 0, -1)


def _square(mask, cx, cy, r):
    cv2.rectangle(mask, (cx - r, cy - r), (cx + r, cy + r), 1, -1)


def _triangle(mask, cx, cy, r):
    cv2.fillPoly(mask, [np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]],
                                 np.int32)], 1)


def _cross(mask, cx, cy, r):
    t = max(1, r // 3)
    cv2.rectangle(mask, (cx - r, cy - t), (cx + r, cy + t), 1, -1)
    cv2.rectangle(mask, (cx - t, cy - r), (cx + t, cy + r), 1, -1)


def _diamond(mask, cx, cy, r):
    cv2.fillPoly(mask, [np.array([[cx, cy - r], [cx + r, cy], [cx, cy + r], [cx - r, cy]],
                                 np.int32)], 1)


def _star(mask, cx, cy, r):
    _poly(mask, cx, cy, r, _regular(5, inner=0.42))


def _crescent(mask, cx, cy, r):
    cv2.circle(mask, (cx, cy), r, 1, -1)
    cv2.circle(mask, (cx + r // 2, cy - r // 4), int(r * 0.85), 0, -1)


def _hexagon(mask, cx, cy, r):
    _poly(mask, cx, cy, r, _regular(6, turn=0))


def _arrow(mask, cx, cy, r):
    _poly(mask, cx, cy, r, [(-1, -0.3), (0.1, -0.3), (0.1, -0.8), (1, 0), (0.1, 0.8),
                            (0.1, 0.3), (-1, 0.3)])


def _ell(mask, cx, cy, r):
    _poly(mask, cx, cy, r, [(-0.7, -1), (-0.1, -1), (-0.1, 0.4), (0.8, 0.4), (0.8, 1),
                            (-0.7, 1)])


def _bowtie(mask, cx, cy, r):
    _poly(mask, cx, cy, r, [(-1, -0.8), (0, 0), (-1, 0.8)])
    _poly(mask, cx, cy, r, [(1, -0.8), (0, 0), (1, 0.8)])


SHAPES: Dict[str, Callable] = dict(
    disc=_disc, square=_square, triangle=_triangle, ring=_ring, cross=_cross,
    diamond=_diamond, star=_star, crescent=_crescent, hexagon=_hexagon, arrow=_arrow,
    ell=_ell, bowtie=_bowtie)


def _grid(h, w):
    return np.mgrid[:h, :w]


def _smooth(rng, h, w):
    return 0


def _diagonal_stripes(rng, h, w):
    yy, xx = _grid(h, w)
    return 40 * np.sign(np.sin((xx + yy) / rng.uniform(2, 4)))


def _checks(rng, h, w):
    yy, xx = _grid(h, w)
    period = rng.integers(3, 6)
    return 35 * (((xx // period) + (yy // period)) % 2 * 2 - 1)


def _vertical_stripes(rng, h, w):
    yy, xx = _grid(h, w)
    return 40 * np.sign(np.sin(xx / rng.uniform(1.5, 3)))


def _dots(rng, h, w):
    yy, xx = _grid(h, w)
    period = int(rng.integers(7, 11))
    d2 = (xx % period - period / 2) ** 2 + (yy % period - period / 2) ** 2
    return np.where(d2 < (period / 4) ** 2, 55, -10)


def _speckle(rng, h, w):
    return rng.normal(0, 35, (h, w))


def _waves(rng, h, w):
    yy, xx = _grid(h, w)
    y0, x0 = rng.uniform(0, h), rng.uniform(0, w)
    return 40 * np.sin(np.hypot(yy - y0, xx - x0) / rng.uniform(1.5, 3))


def _gradient(rng, h, w):
    yy, xx = _grid(h, w)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xx / max(w - 1, 1) + np.sin(angle) * yy / max(h - 1, 1)
    return 70 * (ramp - ramp.mean())


TEXTURES: Dict[str, Callable] = dict(
    smooth=_smooth, diagonal_stripes=_diagonal_stripes, checks=_checks,
    vertical_stripes=_vertical_stripes, dots=_dots, speckle=_speckle, waves=_waves,
    gradient=_gradient)


def shape_mask(rng, shape: str, h: int, w: int, radius=(0.1, 0.22)) -> np.ndarray:
    """A ``[h, w]`` bool mask of one ``shape`` of radius ``radius`` (a range,
    as a fraction of the shorter side) at a random place inside the image."""
    mask = np.zeros((h, w), np.uint8)
    r = max(3, int(rng.uniform(*radius) * min(h, w)))
    cy, cx = int(rng.integers(r, h - r)), int(rng.integers(r, w - r))
    SHAPES[shape](mask, cx, cy, r)
    return mask.astype(bool)


def paint(rng, texture: str, colour: ColourRange, h: int, w: int) -> np.ndarray:
    """A ``[h, w, 3]`` float surface: a colour drawn from ``colour`` plus the
    ``texture``'s pattern."""
    base = rng.uniform(*colour)
    pattern = np.asarray(TEXTURES[texture](rng, h, w), float)
    return np.broadcast_to(base, (h, w, 3)) + pattern[..., None]


def background(rng, h: int, w: int) -> np.ndarray:
    """A ``[h, w, 3]`` float scene: grey level, a ramp, blotches and noise,
    weakly coloured, so that colour and texture, not position, tell objects
    apart."""
    base = rng.uniform(50, 200) + rng.uniform(-15, 15, size=3)
    ramp = np.linspace(-1, 1, w)[None, :, None] * rng.uniform(-40, 40)
    blotch = cv2.GaussianBlur(rng.normal(0, 40, (h, w, 1)), (0, 0), rng.uniform(3, 8))
    noise = rng.normal(0, rng.uniform(3, 12), (h, w, 1))
    return base + ramp + blotch[..., None].reshape(h, w, 1) + noise
