import os

import numpy as np
from PIL import Image


def save_label_png(path: str, labels: np.ndarray, palette) -> None:
    """Write class indices ``[H, W]`` as a palette PNG: it opens as colours
    and loads (PIL, mmseg's ``LoadAnnotations``) as the indices. Written to a
    temporary name first, so a killed run never leaves a half-written mask."""
    img = Image.fromarray(labels.astype(np.uint8), mode='P')
    flat = np.zeros((256, 3), np.uint8)
    flat[:len(palette)] = np.asarray(palette, np.uint8)[:256]
    img.putpalette(flat.flatten().tolist())
    tmp = path + '.tmp.png'
    img.save(tmp)
    os.replace(tmp, path)
