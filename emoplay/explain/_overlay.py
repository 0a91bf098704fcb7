"""Pictures of saliency maps: a heat overlay on the face crop, a per-face panel, a contact sheet, PNG bytes.

Drawn with OpenCV only (colour map, blending, text). Only the positive part of a map is
coloured (regions whose occlusion *lowered* the explained class's probability); each panel is
scaled to its own maximum, which the legend under the overlay states.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._errors import DataError
from ._saliency import FaceSaliency

SCALE = 4  # a 48-pixel crop is drawn 192 pixels wide
_PAD = 8
_FONT = 0  # cv2.FONT_HERSHEY_SIMPLEX
_INK = (30, 30, 30)
_MUTED = (110, 110, 110)
_PAPER = (255, 255, 255)
_BAR = (200, 160, 90)  # BGR: a muted blue for the probability bars
_BAR_TOP = (40, 110, 230)  # BGR: orange for the predicted class
_BARS_WIDTH = 250


def heat_overlay(crop: np.ndarray, saliency: np.ndarray, scale: int = SCALE, vmax: float | None = None) -> np.ndarray:
    """BGR uint8: the gray crop enlarged ``scale`` times, tinted by the positive part of the map
    (TURBO colours, opacity rising with the value, so unimportant regions keep the face visible)."""
    import cv2

    side = crop.shape[0] * scale
    face = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
    face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR).astype(np.float32)
    top = float(np.max(saliency)) if vmax is None else float(vmax)
    level = np.clip(saliency / top, 0.0, 1.0) if top > 0 else np.zeros_like(saliency)
    level = cv2.resize(level.astype(np.float32), (side, side), interpolation=cv2.INTER_CUBIC).clip(0.0, 1.0)
    colours = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_TURBO).astype(np.float32)
    alpha = (0.7 * level ** 0.8)[:, :, None]
    return (face * (1 - alpha) + colours * alpha).round().astype(np.uint8)


def _legend(width: int, vmax: float, target: str) -> np.ndarray:
    import cv2

    strip = np.full((30, width, 3), _PAPER, np.uint8)
    ramp = cv2.applyColorMap(np.linspace(0, 255, width - 2 * 24).astype(np.uint8)[None, :], cv2.COLORMAP_TURBO)
    strip[2:12, 24:width - 24] = np.repeat(ramp, 10, axis=0)
    cv2.putText(strip, "0", (8, 12), _FONT, 0.38, _INK, 1, cv2.LINE_AA)
    cv2.putText(strip, f"{vmax:.2f}", (width - 22, 12), _FONT, 0.33, _INK, 1, cv2.LINE_AA)
    cv2.putText(strip, f"drop of p({target}) when hidden", (24, 26), _FONT, 0.38, _MUTED, 1, cv2.LINE_AA)
    return strip


def _bars(face: FaceSaliency, height: int) -> np.ndarray:
    import cv2

    panel = np.full((height, _BARS_WIDTH, 3), _PAPER, np.uint8)
    top = int(np.argmax(face.probabilities))
    row = max(height // len(face.class_names), 14)
    for i, (name, p) in enumerate(zip(face.class_names, face.probabilities)):
        y = i * row + row // 2 + 5
        ink = _INK if i == top else _MUTED
        cv2.putText(panel, name, (4, y), _FONT, 0.45, ink, 1, cv2.LINE_AA)
        length = int(round(float(p) * 120))
        cv2.rectangle(panel, (80, y - 10), (80 + 120, y + 2), (235, 235, 235), -1)
        if length:
            cv2.rectangle(panel, (80, y - 10), (80 + length, y + 2), _BAR_TOP if i == top else _BAR, -1)
        cv2.putText(panel, f"{float(p):.2f}", (206, y), _FONT, 0.45, ink, 1, cv2.LINE_AA)
    return panel


def face_panel(face: FaceSaliency, title: str, scale: int = SCALE) -> np.ndarray:
    """BGR uint8: title; the crop as the model saw it, the heat overlay, the 7 probabilities as bars."""
    import cv2

    side = face.crop.shape[0] * scale
    plain = cv2.cvtColor(cv2.resize(face.crop, (side, side), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
    vmax = float(np.max(face.saliency))
    overlay = heat_overlay(face.crop, face.saliency, scale, vmax)
    head, legend_h = 28, 30
    width = 4 * _PAD + 2 * side + _BARS_WIDTH
    panel = np.full((head + side + legend_h + _PAD, width, 3), _PAPER, np.uint8)
    headline = f"{title}: {face.predicted} {face.confidence:.2f}"
    if face.target != face.predicted:
        headline += f"  (map explains {face.target})"
    cv2.putText(panel, headline, (_PAD, 19), _FONT, 0.5, _INK, 1, cv2.LINE_AA)
    x_overlay = 2 * _PAD + side
    panel[head:head + side, _PAD:_PAD + side] = plain
    panel[head:head + side, x_overlay:x_overlay + side] = overlay
    panel[head + side:head + side + legend_h, x_overlay:x_overlay + side] = _legend(side, max(vmax, 0.0), face.target)
    cv2.putText(panel, "model input", (_PAD, head + side + 18), _FONT, 0.38, _MUTED, 1, cv2.LINE_AA)
    x_bars = 3 * _PAD + 2 * side
    panel[head:head + side, x_bars:x_bars + _BARS_WIDTH] = _bars(face, side)
    return panel


def contact_sheet(panels: list[np.ndarray], columns: int = 2) -> np.ndarray:
    """The panels tiled in rows of ``columns`` (smaller panels are padded with white)."""
    if not panels:
        raise ValueError("a contact sheet needs at least one panel")
    height = max(p.shape[0] for p in panels)
    width = max(p.shape[1] for p in panels)
    columns = max(1, min(columns, len(panels)))
    rows = -(-len(panels) // columns)
    sheet = np.full((rows * height, columns * width, 3), _PAPER, np.uint8)
    for i, p in enumerate(panels):
        y, x = (i // columns) * height, (i % columns) * width
        sheet[y:y + p.shape[0], x:x + p.shape[1]] = p
    return sheet


def write_png(path: str | Path, image: np.ndarray) -> None:
    """Write ``image`` (BGR or gray uint8) as a PNG file; DataError when it cannot be written."""
    import cv2

    ok, data = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 9])  # smallest files; small images
    if not ok:
        raise DataError(f"{path}: the image could not be encoded as PNG")
    try:
        Path(path).write_bytes(data.tobytes())
    except OSError as e:
        raise DataError(f"{path} cannot be written ({e}); pick another --out folder") from e
