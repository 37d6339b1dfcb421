"""The checks every image file passes before our code paths decode it.

A 12,000 x 12,000 PNG is 445 KB on disk but 16 GB of memory once decoded and
carried through inference (an image's copies, its per-class score maps), so
the pixel count is read from the file's header (Pillow opens lazily: the
header only) and checked against a limit *before* anything decodes it. The
same check names the file and the problem for an empty file and for one that
is no image. Decoding itself is left to the caller's decoder (cv2 through
mmcv, as before), so valid images give the same pixels as they always did.

OpenCV and Pillow only (no torch, mmcv or mmseg): ``postprocessing.crf_jobs``
imports it in the CRF workers, which import no more than they need.
"""
import os
import warnings
from typing import Callable, Optional, Tuple, TypeVar

import cv2
from PIL import Image

# 50 megapixels: an 8160 x 6120 phone photo fits; VOC and COCO images are
# under 1 MP. Inference holds ~100 bytes a pixel (score maps of every class at
# the image's size), so 50 MP is ~5 GB; the 144 MP image above took 16 GB.
DEFAULT_MAX_PIXELS = 50_000_000

# The formats whose header Pillow reads and OpenCV (our decoder) decodes; a
# file Pillow takes for any other format (TGA, whose header has no magic
# number, matches stray bytes) is not trusted for its size.
_HEADER_FORMATS = ('BMP', 'DIB', 'JPEG', 'JPEG2000', 'PNG', 'PPM', 'SUN', 'TIFF', 'WEBP')

T = TypeVar('T')


def _pillow_size(path: str) -> Optional[Tuple[int, int]]:
    """``(W, H)`` from the header, or None when Pillow does not read it as
    one of ``_HEADER_FORMATS``. Pillow's own decompression-bomb limit is
    ours to apply, so it is lifted for the header read."""
    def size():
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', Image.DecompressionBombWarning)
            with Image.open(path, formats=_HEADER_FORMATS) as im:
                return im.size
    try:
        try:
            return size()
        except Image.DecompressionBombError:
            # over 2x Image.MAX_IMAGE_PIXELS (179 MP): read the size without
            # Pillow's check (the header is all that is read); restored at once
            saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                return size()
            finally:
                Image.MAX_IMAGE_PIXELS = saved
    except Exception:  # noqa: BLE001 - any header Pillow cannot parse: not its format
        return None


def _has_header_format_signature(path: str) -> bool:
    """Whether the file starts as one of ``_HEADER_FORMATS`` does (Pillow's
    own signature checks): Pillow then failing to read its size means the
    header is broken, not that the format is one Pillow does not read."""
    with open(path, 'rb') as f:
        prefix = f.read(32)
    Image.init()
    return any(accept(prefix) for accept in
               (Image.OPEN[fmt][1] for fmt in _HEADER_FORMATS if fmt in Image.OPEN)
               if accept is not None)


def check_image_file(path: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                     option: str = 'max_pixels') -> Optional[Tuple[int, int]]:
    """Check an image file before it is decoded; return its ``(H, W)`` as
    stored (before any EXIF rotation), or None for a format only OpenCV
    reads when ``max_pixels`` is None (with a limit, such a file is refused:
    its size is known only once decoded).

    Args:
        path (str): The image file.
        max_pixels (int, optional): Most pixels (W x H) allowed; None: no
            limit.
        option (str): What raises the limit, for the error message (a tool's
            flag, a dataset's option).

    Raises:
        FileNotFoundError: No such file.
        ValueError: An empty file, a file no decoder reads, or one of more
            than ``max_pixels`` pixels; the message starts with the path.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such image file')
    if os.path.getsize(path) == 0:
        raise ValueError(f'{path}: empty file (0 bytes), not an image')
    size = _pillow_size(path)
    if size is None:
        # OpenCV's check reads the file's signature only
        if not cv2.haveImageReader(path):
            raise ValueError(f'{path}: not an image (no image format recognised) or corrupt')
        if _has_header_format_signature(path):
            raise ValueError(f'{path}: corrupt image, its header cannot be read')
        if max_pixels is not None:
            # OpenCV would decode it at any size (a compressed HDR or PFM of
            # hundreds of megapixels is tens of MB): its size is unknown until then
            raise ValueError(f'{path}: an image format whose size cannot be read before '
                             'decoding (Radiance HDR, PFM, ...), so the pixel limit cannot be '
                             f'applied; convert it to PNG or JPEG, or lift the limit ({option})')
        return None
    w, h = size
    if max_pixels is not None and w * h > max_pixels:
        raise ValueError(f'{path}: {w} x {h} pixels ({w * h / 1e6:.1f} MP) is over the limit '
                         f'of {max_pixels:,} pixels; raise it with {option} (more pixels take '
                         'more memory: ~100 bytes a pixel at inference)')
    return h, w


def read_checked_image(path: str, read: Callable[[str], T],
                       max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                       option: str = 'max_pixels') -> T:
    """``read(path)`` (the caller's decoder, unchanged) once
    ``check_image_file`` passes; a decoder that fails or reads nothing is an
    error naming the file.

    Returns:
        What ``read`` returns: e.g. ``mmcv.imread``'s ``[H, W, 3]`` uint8.
    """
    check_image_file(path, max_pixels, option)
    try:
        image = read(path)
    except Exception as e:  # noqa: BLE001 - name the file whatever the decoder raised
        raise ValueError(f'{path}: corrupt image, cannot be decoded ({e})') from e
    if image is None:
        raise ValueError(f'{path}: corrupt image, cannot be decoded')
    return image
