"""The model input from a frame: MediaPipe's ``ImageToTensorCalculator`` with ``keep_aspect_ratio``.

The whole frame is scaled to fit the 128x128 input, centred, and the rest is
zero (black) padding, as MediaPipe pads with ``BORDER_ZERO``. MediaPipe maps
output pixel (u, v) to frame point ((u - tx) / s, (v - ty) / s) — pixel
indices, not pixel centres — and samples it bilinearly; ``cv2.warpAffine`` with
the same matrix does exactly that, in one pass from the uint8 frame straight
into a buffer that is reused for every frame, on the calling thread alone
(``emoplay._cv_threads``). (``cv2.resize`` samples pixel
centres, which shifts the image by up to half a model pixel and changes the
scores.) Pixel values become (p / 127.5) - 1, in [-1, 1].

Frames may be gray, BGR, RGB, BGRA or RGBA: the warp works on each channel
alone, so the colour order is fixed on the 128x128 result (warping then
swapping channels equals swapping then warping, exactly), and a caller need not
convert the whole frame to RGB first.

Coordinates that the model gives in fractions of its input are mapped back to
fractions of the frame by :meth:`Letterbox.to_frame`.

The buffers hold a 128x128 copy of the frame: :meth:`Letterbox.clear` zeroes them,
which the detector does as soon as the model has run, so that the frame does not
outlive its pipeline step in a downscaled copy either.
"""

from __future__ import annotations

import numpy as np

from .._cv_threads import on_this_thread
from ._anchors import INPUT_SIZE


class Letterbox:
    """Frame → model input, reusing its buffers while the frame size stays the same."""

    def __init__(self, size: int = INPUT_SIZE) -> None:
        self.size = size
        self._pixels = {channels: np.zeros((size, size, channels) if channels > 1 else (size, size), np.uint8)
                        for channels in (1, 3, 4)}  # the warped frame, by its number of channels
        self._channels = 1  # those of the last frame prepared
        self._rgb = np.zeros((size, size, 3), np.uint8)  # the warped frame in RGB order (colour frames)
        self.tensor = np.zeros((1, size, size, 3), np.float32)  # the model input, rewritten by each prepare()
        self._frame_size: tuple[int, int] | None = None
        self._matrix = np.zeros((2, 3), np.float64)
        self._offset = np.zeros(2, np.float32)  # padding in fractions of the input (left, top)
        self._extent = np.ones(2, np.float32)  # fraction of the input the frame covers (x, y)

    def _fit(self, width: int, height: int) -> None:
        side = max(width, height)  # the frame padded to a square, centred
        scale = self.size / side
        self._matrix[0, 0] = self._matrix[1, 1] = scale
        self._matrix[0, 2] = scale * (side - width) / 2
        self._matrix[1, 2] = scale * (side - height) / 2
        self._offset[:] = ((side - width) / 2 / side, (side - height) / 2 / side)
        self._extent[:] = (width / side, height / side)
        self._frame_size = (width, height)

    def prepare(self, pixels: np.ndarray, color_order: str = "rgb") -> np.ndarray:
        """The model input [1, 128, 128, 3] float32 (RGB) for a uint8 frame (the same array each call).

        ``pixels``: HxW gray, or HxWx3 / HxWx4 in ``color_order`` ("rgb": RGB/RGBA, "bgr": BGR/BGRA).
        """
        import cv2

        height, width = pixels.shape[:2]
        if self._frame_size != (width, height):
            self._fit(width, height)
        self._channels = 1 if pixels.ndim == 2 else pixels.shape[2]
        warped = self._pixels[self._channels]
        with on_this_thread():  # not OpenCV's pool, whose threads spin after so small a warp (_cv_threads.py)
            cv2.warpAffine(pixels, self._matrix, (self.size, self.size), dst=warped, flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
            # RGB in a contiguous buffer: numpy scales it five times faster than a channel-reversed view.
            if warped.ndim == 2:
                warped = warped[:, :, None]  # gray: the same value in R, G and B
            elif color_order == "bgr":
                code = cv2.COLOR_BGR2RGB if warped.shape[2] == 3 else cv2.COLOR_BGRA2RGB
                warped = cv2.cvtColor(warped, code, dst=self._rgb)
            elif warped.shape[2] == 4:
                warped = cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB, dst=self._rgb)
        np.multiply(warped, np.float32(1 / 127.5), out=self.tensor[0], casting="unsafe")
        self.tensor -= np.float32(1.0)
        return self.tensor

    def clear(self) -> None:
        """Zero the buffers that hold the last frame prepared (its warped pixels, their RGB copy, the model
        input)."""
        self._pixels[self._channels].fill(0)
        self._rgb.fill(0)
        self.tensor.fill(0)

    def to_frame(self, points: np.ndarray) -> np.ndarray:
        """x, y pairs (last axis, repeated: x0, y0, x1, y1, ...) in fractions of the input → of the frame."""
        shape = points.shape
        pairs = points.reshape(-1, 2)
        return ((pairs - self._offset) / self._extent).reshape(shape)
