"""Prediction pictures a person can read: enlarged, outlined, with a legend."""
import cv2
import numpy as np

from apc_mmseg.visualization import legend, overlay, prediction_panel, shown_classes

NAMES = ('background', 'disc', 'square', 'triangle')
PALETTE = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]


def red_disc(h=96, w=128):
    """A grey image with a dark-red disc the colour of class 1, and its label map."""
    image = np.full((h, w, 3), 90, np.uint8)
    labels = np.zeros((h, w), np.uint8)
    cv2.circle(labels, (w // 2, h // 2), h // 4, 1, -1)
    image[labels == 1] = PALETTE[1]
    return image, labels


def test_a_region_shows_on_an_object_of_its_own_colour():
    image, labels = red_disc()
    blended = image.astype(np.float32)  # a fill alone: the disc looks as before
    blended[labels == 1] = 0.5 * blended[labels == 1] + 0.5 * np.float32(PALETTE[1])
    assert (blended.round().astype(np.uint8) == image).all()
    out = overlay(image, labels, PALETTE)
    white = (out == 255).all(-1)
    assert white.sum() > 50  # the rim around the region
    kernel = np.ones((7, 7), np.uint8)
    ring = cv2.dilate(labels, kernel) - cv2.erode(labels, kernel)
    assert white[ring == 0].sum() == 0  # the rim follows the region's edge only


def test_the_panel_is_enlarged_and_its_legend_names_the_shown_classes():
    image, gt = red_disc()
    pred = gt.copy()
    pred[:20, :30] = 3  # a triangle the ground truth does not have
    assert shown_classes(pred, gt) == [1, 3]
    assert shown_classes(np.zeros((4, 4)), None) == []
    panel = prediction_panel(image, pred, gt, NAMES, PALETTE)
    # 96 px high -> x4: three 512x384 tiles with 4-px gaps, the legend below
    assert panel.shape[1] == 3 * 512 + 2 * 4
    tiles, strip = panel[:384], panel[384:]
    assert strip.shape[0] >= 28
    assert (strip == legend([1, 3], NAMES, PALETTE, panel.shape[1])).all()
    for c, colour in enumerate(PALETTE[1:], 1):  # (black is the text's colour)
        swatch = (strip == colour).all(-1).sum()
        assert (swatch > 100) == (c in (1, 3)), (NAMES[c], swatch)
    # the names are drawn: other names give another strip
    assert (legend([1, 3], ('bg', 'cat', 'dog', 'bird'), PALETTE, 1544) != strip).any()
    assert (tiles[:, :512] != 255).any()


def test_a_large_image_keeps_its_size_and_the_legend_wraps():
    image = np.zeros((400, 500, 3), np.uint8)
    pred = np.zeros((400, 500), np.uint8)
    panel = prediction_panel(image, pred, None, NAMES, PALETTE)
    assert panel.shape[:2] == (400 + legend([], NAMES, PALETTE, 1004).shape[0], 1004)
    names = [f'class number {i}' for i in range(10)]
    narrow = legend(range(10), names, [[i * 20] * 3 for i in range(10)], width=300)
    assert narrow.shape[0] >= 5 * 28  # two or fewer entries a line
