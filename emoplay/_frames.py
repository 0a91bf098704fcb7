"""Frames and the pixel formats emoplay accepts.

A :class:`Frame` is one image with a monotonic timestamp in seconds. Pixels may
be gray (HxW or HxWx1), BGR or RGB (HxWx3, OpenCV's BGR unless told otherwise)
or BGRA (HxWx4), uint8. The pipeline converts each frame once to the two views
it needs (RGB for the detector, gray for the classifier) and keeps neither.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._errors import SourceError


@dataclass(frozen=True)
class Frame:
    pixels: np.ndarray
    timestamp: float  # seconds, monotonic
    index: int = 0
    color_order: str = "bgr"  # for 3/4-channel pixels: "bgr" or "rgb"


def check_pixels(pixels: object) -> np.ndarray:
    """Validate a frame's pixels; return them as a uint8 array with 2 or 3 dimensions."""
    if not isinstance(pixels, np.ndarray):
        raise TypeError(f"a frame must be a numpy array, got {type(pixels).__name__}")
    if pixels.size == 0:
        raise SourceError("empty frame (0 pixels): the source delivered no image; check that the camera or file "
                          "actually produces frames")
    if pixels.dtype != np.uint8:
        raise TypeError(f"frame pixels must be uint8, got {pixels.dtype}; convert with (x * 255).astype(np.uint8) "
                        "for floats in [0, 1]")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] in (3, 4)):
        return pixels
    raise ValueError(f"unsupported frame shape {pixels.shape}: use HxW gray, HxWx3 BGR/RGB or HxWx4 BGRA")


def check_frame(pixels: np.ndarray, color_order: str = "bgr") -> np.ndarray:
    """Validate a frame's pixels and colour order; the pixels as :func:`check_pixels` returns them."""
    pixels = check_pixels(pixels)
    if color_order not in ("bgr", "rgb"):
        raise ValueError(f"color_order must be 'bgr' or 'rgb', got {color_order!r}")
    return pixels


def gray_of(pixels: np.ndarray, color_order: str = "bgr") -> np.ndarray:
    """The gray view of checked pixels: a whole frame or any region of one (the conversion is per pixel, so
    converting a face's region alone gives the same values as converting the frame and then cutting it)."""
    import cv2

    if pixels.ndim == 2:
        return np.ascontiguousarray(pixels)
    if pixels.shape[2] == 4:
        return cv2.cvtColor(pixels, cv2.COLOR_BGRA2GRAY if color_order == "bgr" else cv2.COLOR_RGBA2GRAY)
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY if color_order == "bgr" else cv2.COLOR_RGB2GRAY)


def to_gray(pixels: np.ndarray, color_order: str = "bgr") -> np.ndarray:
    """Only the classifier's gray view of a whole frame; equal to ``to_rgb_and_gray``'s."""
    return gray_of(check_frame(pixels, color_order), color_order)


def to_rgb_and_gray(pixels: np.ndarray, color_order: str = "bgr") -> tuple[np.ndarray, np.ndarray]:
    """The detector's RGB view and the classifier's gray view of one frame."""
    import cv2

    pixels = check_frame(pixels, color_order)
    if pixels.ndim == 2:
        gray = np.ascontiguousarray(pixels)
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), gray
    if pixels.shape[2] == 4:
        code_rgb = cv2.COLOR_BGRA2RGB if color_order == "bgr" else cv2.COLOR_RGBA2RGB
        rgb = cv2.cvtColor(pixels, code_rgb)
    elif color_order == "bgr":
        rgb = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    else:
        rgb = np.ascontiguousarray(pixels)
    return rgb, cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
