"""SSD anchors of BlazeFace (MediaPipe's ``SsdAnchorsCalculator`` settings for each model).

The model predicts, for each anchor, a box and 6 keypoints as offsets from the
anchor's centre. With ``fixed_anchor_size`` every anchor is 1x1, so only the
centres matter: cell (x, y) of a grid of side n has its anchors at
((x + 0.5) / n, (y + 0.5) / n), in fractions of the model input. Order: layer
by layer, rows then columns, then the anchors of one cell.

* Short range, 128x128 input: four feature-map layers with strides 8, 16, 16
  and 16, 2 anchors per layer and cell (aspect ratio 1.0 plus the interpolated
  scale): a 16x16 grid with 2 anchors per cell (512), then the three 8x8 layers
  merged into one grid with 6 anchors per cell (384), 896 in all.
* Full range, 192x192 input: one layer of stride 4 with 1 anchor per cell (no
  interpolated scale), a 48x48 grid, 2304 anchors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INPUT_SIZE = 128  # the short-range model's
STRIDES = (8, 16, 16, 16)
ANCHORS_PER_LAYER = 2  # aspect ratio 1.0, plus the interpolated scale (also 1.0)
ANCHOR_OFFSET = 0.5


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace variant: its shipped file, input side and anchor layout."""

    range: str  # "short" or "full"
    file: str  # in the shipped models folder
    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int

    @property
    def num_anchors(self) -> int:
        return len(ssd_anchor_centres(self.input_size, self.strides, self.anchors_per_layer))


SHORT_RANGE = BlazeFaceModel("short", "face_detector.onnx", INPUT_SIZE, STRIDES, ANCHORS_PER_LAYER)
FULL_RANGE = BlazeFaceModel("full", "face_detector_full_range.onnx", 192, (4,), 1)
MODELS = {model.range: model for model in (SHORT_RANGE, FULL_RANGE)}


def ssd_anchor_centres(input_size: int = INPUT_SIZE, strides: tuple[int, ...] = STRIDES,
                       anchors_per_layer: int = ANCHORS_PER_LAYER) -> np.ndarray:
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
        centres.append(np.repeat(cells, repeats * anchors_per_layer, axis=0))
    return np.concatenate(centres).astype(np.float32)
