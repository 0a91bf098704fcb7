"""Face detection with the MediaPipe Tasks ``FaceDetector`` (BlazeFace short range).

Result in, result out: :meth:`FaceDetector.detect` takes an RGB frame and
returns :class:`Detections` (an empty object when there is no face, never
``None``). Boxes are ``x, y, width, height`` in frame pixels, clamped to the frame.
"""

from __future__ import annotations

import contextlib
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._errors import ModelError, SensorClosedError
from ._model_files import FACE_DETECTOR_MODEL, shipped_model


@contextlib.contextmanager
def _mediapipe_import_without_side_effects():
    """Import mediapipe without the side effects of helpers we never use.

    mediapipe's package ``__init__`` imports its audio and drawing helpers too:
    ``sounddevice``, whose import runs ``ldconfig`` and ``gcc`` (ctypes looking
    for PortAudio) and writes temporary files, and ``matplotlib.pyplot``, which
    runs ``fc-list`` and writes a font cache under ``~/.cache``. A privacy tool
    must not spawn processes or write files, so for the duration of the import
    ``sounddevice`` is made unavailable (mediapipe handles that) and
    ``matplotlib.pyplot`` is a placeholder. Both entries are removed again
    afterwards, so the host can import the real modules later; only
    mediapipe's own audio recorder and landmark plotting stay unusable in this
    process. Nothing is hidden if the host had already imported them.
    """
    hidden: dict[str, object] = {}
    if "sounddevice" not in sys.modules:
        hidden["sounddevice"] = None  # None in sys.modules makes the import raise ImportError
    if "matplotlib.pyplot" not in sys.modules and "matplotlib" not in sys.modules:
        hidden["matplotlib"] = types.ModuleType("matplotlib")
        hidden["matplotlib.pyplot"] = types.ModuleType("matplotlib.pyplot")
        hidden["matplotlib"].pyplot = hidden["matplotlib.pyplot"]
    sys.modules.update(hidden)
    try:
        yield
    finally:
        for name, placeholder in hidden.items():
            if sys.modules.get(name) is placeholder:
                del sys.modules[name]


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))  # [N, 4] x, y, w, h
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))  # [N]

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class DetectorOptions:
    model_path: str | None = None  # None: the shipped, checksum-verified model
    min_confidence: float = 0.5
    min_suppression: float = 0.3
    video_mode: bool = True  # frames of one stream with increasing timestamps
    min_face_size: int = 24  # pixels; smaller boxes are dropped (too small to classify)

    def __post_init__(self) -> None:
        if not 0.0 < self.min_confidence < 1.0:
            raise ValueError(f"min_confidence must be in (0, 1), got {self.min_confidence}")
        if self.min_face_size < 1:
            raise ValueError(f"min_face_size must be >= 1 pixel, got {self.min_face_size}")


class FaceDetector:
    def __init__(self, options: DetectorOptions = DetectorOptions()) -> None:
        with _mediapipe_import_without_side_effects():
            from mediapipe.tasks.python import BaseOptions, vision

        self.options = options
        path = Path(options.model_path) if options.model_path else shipped_model(FACE_DETECTOR_MODEL)
        if not path.is_file():
            raise ModelError(f"face detector model {path} does not exist; pass model_path=None for the shipped one")
        mode = vision.RunningMode.VIDEO if options.video_mode else vision.RunningMode.IMAGE
        try:
            self._detector = vision.FaceDetector.create_from_options(vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_buffer=path.read_bytes()),
                running_mode=mode,
                min_detection_confidence=options.min_confidence,
                min_suppression_threshold=options.min_suppression,
            ))
        except (RuntimeError, ValueError) as e:
            raise ModelError(f"{path} is not a usable MediaPipe face detector model: {e}") from e
        self._last_ms = -1
        from mediapipe.tasks.python.vision.core.image import Image, ImageFormat

        self._image_type, self._srgb = Image, ImageFormat.SRGB

    def detect(self, rgb: np.ndarray, timestamp: float | None = None) -> Detections:
        """Faces in one RGB uint8 frame. ``timestamp`` (seconds) is required in video mode."""
        if self._detector is None:
            raise SensorClosedError("this FaceDetector was closed; create a new one")
        image = self._image_type(image_format=self._srgb, data=np.ascontiguousarray(rgb))
        if self.options.video_mode:
            if timestamp is None:
                raise ValueError("video mode needs a timestamp per frame (seconds, increasing)")
            # MediaPipe wants strictly increasing integer milliseconds.
            ms = max(int(timestamp * 1000), self._last_ms + 1)
            self._last_ms = ms
            result = self._detector.detect_for_video(image, ms)
        else:
            result = self._detector.detect(image)
        return self._to_detections(result, rgb.shape[1], rgb.shape[0])

    def _to_detections(self, result, width: int, height: int) -> Detections:
        boxes, scores = [], []
        for det in result.detections:
            bb = det.bounding_box
            x0, y0 = max(bb.origin_x, 0), max(bb.origin_y, 0)
            x1, y1 = min(bb.origin_x + bb.width, width), min(bb.origin_y + bb.height, height)
            if min(x1 - x0, y1 - y0) < self.options.min_face_size:
                continue
            boxes.append((x0, y0, x1 - x0, y1 - y0))
            scores.append(det.categories[0].score if det.categories else 0.0)
        if not boxes:
            return Detections()
        return Detections(np.asarray(boxes, np.int32), np.asarray(scores, np.float32))

    def reset(self) -> None:
        """A new stream starts. Nothing to rebuild: timestamps given to MediaPipe are kept increasing anyway."""

    def close(self) -> None:
        # MediaPipe's own __del__ raises at interpreter exit, so close explicitly.
        if self._detector is not None:
            self._detector.close()
            self._detector = None

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
