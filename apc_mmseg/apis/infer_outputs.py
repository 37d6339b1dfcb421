"""Which files ``tools/infer.py`` reads and where each one's outputs go."""
import os
import os.path as osp
from collections import Counter
from typing import List, Tuple

IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')
OUTPUT_SUFFIXES = ('.png', '_prediction.png', '_heatmaps.png')


def list_images(path: str) -> Tuple[str, List[str]]:
    """``(root, image paths)``: ``path`` itself, or every image under the
    folder ``path`` (sub-folders included), sorted."""
    if osp.isfile(path):
        return osp.dirname(osp.abspath(path)), [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'no image or folder at {path}')
    files = sorted(osp.join(d, f) for d, _, names in os.walk(path) for f in names
                   if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
        raise ValueError(f'{path} holds no image ({", ".join(IMAGE_SUFFIXES)})')
    return path, files


def output_stems(root: str, files: List[str], out: str, overwrite: bool = False) -> List[str]:
    """One output stem per image (``<stem>.png``, ``<stem>_prediction.png``,
    ``<stem>_heatmaps.png`` are written), mirroring the sub-folders under
    ``root``: the image's name without its suffix, or with it
    (``a.jpg`` -> ``a_jpg``) where two images would share a stem. Refuses to
    write over an input image, and over an existing output unless
    ``overwrite``."""
    rel = [osp.relpath(osp.abspath(f), osp.abspath(root)) for f in files]
    plain = [osp.splitext(r)[0] for r in rel]
    shared = {s for s, n in Counter(plain).items() if n > 1}
    stems = [osp.join(out, s + '_' + osp.splitext(r)[1][1:] if s in shared else s)
             for s, r in zip(plain, rel)]
    twice = [s for s, n in Counter(stems).items() if n > 1]
    if twice:
        raise ValueError(f'{twice[0]}: two images would write the same outputs')
    inputs = {osp.realpath(f) for f in files}
    for stem in stems:
        for suffix in OUTPUT_SUFFIXES:
            target = stem + suffix
            if osp.realpath(target) in inputs:
                raise ValueError(f'{target}: is an input image; choose another --out')
            if osp.exists(target) and not overwrite:
                raise FileExistsError(f'{target}: exists; use --overwrite to replace the '
                                      'outputs of an earlier run, or another --out')
    return stems
