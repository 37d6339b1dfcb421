import numpy as np
from PIL import Image

from ..utils.atomic_file import write_atomically


def save_label_png(path: str, labels: np.ndarray, palette) -> None:
    """Write class indices ``[H, W]`` as a palette PNG: it opens as colours
    and loads (PIL, mmseg's ``LoadAnnotations``) as the indices. Written to a
    hidden temporary name first (``write_atomically``), so a killed run never
    leaves a half-written mask, nor a file a later run would take for an
    image; the next atomic write into the folder removes such a leftover."""
    img = Image.fromarray(labels.astype(np.uint8), mode='P')
    flat = np.zeros((256, 3), np.uint8)
    flat[:len(palette)] = np.asarray(palette, np.uint8)[:256]
    img.putpalette(flat.flatten().tolist())
    write_atomically(path, lambda f: img.save(f, format='PNG'))
