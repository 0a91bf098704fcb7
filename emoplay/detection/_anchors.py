"""SSD anchors of BlazeFace short range (MediaPipe's ``SsdAnchorsCalculator`` settings for it).

The 128x128 model predicts, for each anchor, a box and 6 keypoints as offsets
from the anchor's centre. Its anchors come from four feature-map layers with
strides 8, 16, 16 and 16: a 16x16 grid with 2 anchors per cell (512), then the
three 8x8 layers merged into one grid with 6 anchors per cell (384), 896 in
all. With ``fixed_anchor_size`` every anchor is 1x1, so only the centres
matter: cell (x, y) of a grid of side n has its anchors at ((x + 0.5) / n,
(y + 0.5) / n), in fractions of the model input. Order: layer by layer, rows
then columns, then the anchors of one cell.
"""

from __future__ import annotations

import numpy as np

INPUT_SIZE = 128
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2  # aspect ratio 1.0, plus the interpolated scale (also 1.0)
ANCHOR_OFFSET = 0.5


def ssd_anchor_centres(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES) -> np.ndarray:
    """Anchor centres [N, 2] (x, y) in fractions of the input; consecutive equal strides share one grid."""
    centres = []
    layer = 0
    while layer < len(strides):
        stride, repeats = strides[layer], 0
        while layer < len(strides) and strides[layer] == stride:
            repeats, layer = repeats + 1, layer + 1
        side = -(-input_size // stride)  # ceil, as MediaPipe computes the feature map size
        ys, xs = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
        cells = np.stack([(xs + ANCHOR_OFFSET) / side, (ys + ANCHOR_OFFSET) / side], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(cells, repeats * ANCHORS_PER_LAYER, axis=0))
    return np.concatenate(centres).astype(np.float32)
