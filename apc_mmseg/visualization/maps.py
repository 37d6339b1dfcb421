"""Pictures of APC's outputs: per-class score heat maps (APC Fig. 5) and
prediction overlays (Fig. 6), as uint8 RGB arrays."""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np

from ..utils.atomic_file import write_atomically


def colorize(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """``[H, W]`` class ids -> ``[H, W, 3]`` RGB (255 = ignore is white)."""
    lut = np.full((256, 3), 255, np.uint8)
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    return lut[labels.astype(np.uint8)]


def overlay(image: np.ndarray, labels: np.ndarray, palette, alpha: float = 0.5) -> np.ndarray:
    """Blend a coloured label map over an RGB image (background left clear)
    and outline each region: its colour over a white rim, so that a region
    stays visible on an object of its own colour."""
    colour = colorize(labels, palette).astype(np.float32)
    out = image.astype(np.float32)
    fg = (labels > 0) & (labels != 255)
    out[fg] = (1 - alpha) * out[fg] + alpha * colour[fg]
    out = out.round().astype(np.uint8)
    width = max(1, min(labels.shape) // 128)
    for c in np.unique(labels[fg]):
        contours, _ = cv2.findContours((labels == c).astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, (255, 255, 255), 3 * width, cv2.LINE_AA)
        cv2.drawContours(out, contours, -1, tuple(int(v) for v in palette[c]), width,
                         cv2.LINE_AA)
    return out


def enlarge(image: np.ndarray, labels: Sequence[np.ndarray] = (), min_side: int = 384):
    """Scale an image (cubic) and its ``[H, W]`` label maps (nearest) by the
    smallest whole factor that brings the shorter side to ``min_side``;
    larger images are returned as they are."""
    factor = -(-min_side // min(image.shape[:2]))
    if factor <= 1:
        return image, list(labels)
    size = (image.shape[1] * factor, image.shape[0] * factor)
    return (cv2.resize(image, size, interpolation=cv2.INTER_CUBIC),
            [cv2.resize(m.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
             for m in labels])


def shown_classes(*label_maps: Optional[np.ndarray]) -> list:
    """The foreground class ids present in any of the maps, sorted."""
    ids = set()
    for m in label_maps:
        if m is not None:
            ids |= set(np.unique(m).tolist())
    return sorted(ids - {0, 255})


def legend(classes: Sequence[int], names: Sequence[str], palette, width: int,
           row_height: int = 28) -> np.ndarray:
    """A white strip ``width`` wide: a colour swatch and the name of each
    class, as many to a line as fit."""
    entries = [(names[c], tuple(int(v) for v in palette[c])) for c in classes]
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.6
    sizes = [cv2.getTextSize(name, font, scale, 1)[0][0] + row_height + 16
             for name, _ in entries]
    lines, x = 1, 0
    for w in sizes:  # lay out left to right, wrapping at the strip's width
        if x and x + w > width:
            lines, x = lines + 1, 0
        x += w
    strip = np.full((lines * row_height + 8, width, 3), 255, np.uint8)
    x, y = 4, 4
    for (name, colour), w in zip(entries, sizes):
        if x > 4 and x + w > width:
            x, y = 4, y + row_height
        cv2.rectangle(strip, (x, y + 4), (x + row_height - 8, y + row_height - 4), colour, -1)
        cv2.rectangle(strip, (x, y + 4), (x + row_height - 8, y + row_height - 4), (0, 0, 0), 1)
        cv2.putText(strip, name, (x + row_height, y + row_height - 9), font, scale, (0, 0, 0),
                    1, cv2.LINE_AA)
        x += w
    return strip


def heatmap(image: np.ndarray, score: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A ``[H, W]`` score in [0, 1] as a jet heat map over an RGB image."""
    jet = cv2.applyColorMap((np.clip(score, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return ((1 - alpha) * image + alpha * jet[..., ::-1]).round().astype(np.uint8)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """``text`` in the tile's top-left corner, white on a dark box, its size
    following the tile's."""
    tile = tile.copy()  # never draw on the caller's image
    if text:
        scale = max(0.4, tile.shape[0] / 600)
        (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        cv2.rectangle(tile, (0, 0), (w + 6, h + base + 6), (0, 0, 0), -1)
        cv2.putText(tile, text, (3, h + 3), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255),
                    1, cv2.LINE_AA)
    return tile


def row(tiles: Sequence[np.ndarray], titles: Optional[Sequence[str]] = None,
        gap: int = 4) -> np.ndarray:
    """Tiles of one height side by side, each optionally titled."""
    titles = titles or [''] * len(tiles)
    h = tiles[0].shape[0]
    parts = []
    for tile, title in zip(tiles, titles):
        parts += [_label(tile, title), np.full((h, gap, 3), 255, np.uint8)]
    return np.concatenate(parts[:-1], axis=1)


def score_panel(image: np.ndarray, scores: np.ndarray, classes: Sequence[int],
                names: Sequence[str], min_side: int = 384) -> np.ndarray:
    """The image and one heat map per class in ``classes`` (``scores [K, H, W]``),
    enlarged to ``min_side`` when smaller."""
    big, _ = enlarge(image, (), min_side)
    size = (big.shape[1], big.shape[0])
    maps = [cv2.resize(scores[c].astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
            for c in classes]
    tiles = [big] + [heatmap(big, m) for m in maps]
    return row(tiles, ['image'] + [names[c] for c in classes])


def prediction_panel(image: np.ndarray, pred: np.ndarray, gt: Optional[np.ndarray],
                     names: Sequence[str], palette, min_side: int = 384) -> np.ndarray:
    """Image, prediction overlay and (when given) the ground truth overlay,
    enlarged to ``min_side`` when smaller, over a legend naming every class
    they show (``shown_classes``)."""
    maps = [pred] if gt is None else [pred, gt]
    big, maps = enlarge(image, maps, min_side)
    tiles = [big] + [overlay(big, m, palette) for m in maps]
    titles = ['image', 'prediction', 'ground truth'][:len(tiles)]
    panel = row(tiles, titles)
    key = legend(shown_classes(*maps), names, palette, panel.shape[1])
    return np.concatenate([panel, key], axis=0)


def save_rgb(path: str, image: np.ndarray) -> None:
    """Write an RGB picture ``[H, W, 3]`` (format from the suffix), whole or
    not at all (``write_atomically``)."""
    ok, data = cv2.imencode(osp.splitext(path)[1], np.ascontiguousarray(image[..., ::-1]))
    if not ok:
        raise ValueError(f'{path}: OpenCV cannot encode a picture in this format')
    write_atomically(path, lambda f: f.write(data.tobytes()))
