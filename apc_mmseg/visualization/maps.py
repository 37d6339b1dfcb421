"""Pictures of APC's outputs: per-class score heat maps (APC Fig. 5) and
prediction overlays (Fig. 6), as uint8 RGB arrays."""
from typing import Optional, Sequence

import cv2
import numpy as np


def colorize(labels: np.ndarray, palette: Sequence[Sequence[int]]) -> np.ndarray:
    """``[H, W]`` class ids -> ``[H, W, 3]`` RGB (255 = ignore is white)."""
    lut = np.full((256, 3), 255, np.uint8)
    lut[:len(palette)] = np.asarray(palette, np.uint8)
    return lut[labels.astype(np.uint8)]


def overlay(image: np.ndarray, labels: np.ndarray, palette, alpha: float = 0.5) -> np.ndarray:
    """Blend a coloured label map over an RGB image (background left clear)."""
    colour = colorize(labels, palette).astype(np.float32)
    out = image.astype(np.float32)
    fg = (labels > 0) & (labels != 255)
    out[fg] = (1 - alpha) * out[fg] + alpha * colour[fg]
    return out.round().astype(np.uint8)


def heatmap(image: np.ndarray, score: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """A ``[H, W]`` score in [0, 1] as a jet heat map over an RGB image."""
    jet = cv2.applyColorMap((np.clip(score, 0, 1) * 255).astype(np.uint8), cv2.COLORMAP_JET)
    return ((1 - alpha) * image + alpha * jet[..., ::-1]).round().astype(np.uint8)


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    tile = tile.copy()  # never draw on the caller's image
    cv2.putText(tile, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                cv2.LINE_AA)
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
                names: Sequence[str]) -> np.ndarray:
    """The image and one heat map per class in ``classes`` (``scores [K, H, W]``)."""
    tiles = [image] + [heatmap(image, scores[c]) for c in classes]
    return row(tiles, ['image'] + [names[c] for c in classes])


def prediction_panel(image: np.ndarray, pred: np.ndarray, gt: Optional[np.ndarray],
                     palette) -> np.ndarray:
    """Image, prediction overlay and (when given) the ground truth overlay."""
    tiles, titles = [image, overlay(image, pred, palette)], ['image', 'prediction']
    if gt is not None:
        tiles.append(overlay(image, gt, palette))
        titles.append('ground truth')
    return row(tiles, titles)


def save_rgb(path: str, image: np.ndarray) -> None:
    cv2.imwrite(path, np.ascontiguousarray(image[..., ::-1]))
