"""Face detection with MediaPipe's BlazeFace short-range model, run on onnxruntime.

Result in, result out: :meth:`FaceDetector.detect` takes a frame (RGB, or BGR/gray/4-channel) and
returns :class:`Detections` (an empty object when there is no face, never
``None``). Boxes are ``x, y, width, height`` in frame pixels, clamped to the
frame; keypoints are 6 (x, y) points per face in frame pixels.

The model is Google's ``face_detection_short_range.tflite`` (Apache-2.0),
converted to ONNX once by ``models/convert_face_detector.py``; letterboxing,
anchor decoding, the score threshold and weighted non-max suppression follow
MediaPipe's face detector graph, and ``tests/detection/test_detector_reference.py``
checks the result against detections recorded with MediaPipe itself. Nothing
here loads MediaPipe or TFLite, and nothing opens a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import check_flag, check_number
from ..pipeline._classify import import_onnxruntime
from .._errors import ModelError, SensorClosedError
from .._frames import check_pixels
from .._model_files import FACE_DETECTOR_MODEL, shipped_model
from ._anchors import INPUT_SIZE, ssd_anchor_centres
from ._decode import NUM_KEYPOINTS, decode
from ._letterbox import Letterbox
from ._nms import weighted_nms

_INPUT, _BOXES, _SCORES = "input", "regressors", "classificators"


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.int32))  # [N, 4] x, y, w, h
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))  # [N]
    keypoints: np.ndarray = field(default_factory=lambda: np.zeros((0, NUM_KEYPOINTS, 2), np.float32))  # [N, 6, 2]

    def __len__(self) -> int:
        return len(self.boxes)


@dataclass(frozen=True)
class NormalizedDetections:
    """What the model found, as MediaPipe reports it: fractions of the frame, not clamped, no size filter.

    ``boxes`` [N, 4] x, y, width, height; ``keypoints`` [N, 6, 2] x, y; ``scores`` [N], best first.
    """

    boxes: np.ndarray
    keypoints: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class DetectorOptions:
    model_path: str | None = None  # None: the shipped, checksum-verified model
    min_confidence: float = 0.5
    min_suppression: float = 0.3  # IoU above which candidates merge into one face
    video_mode: bool = True  # frames of one stream with increasing timestamps (detection itself is per frame)
    min_face_size: int = 24  # pixels; smaller boxes are dropped (too small to classify)
    threads: int = 1  # onnxruntime intra-op threads

    def __post_init__(self) -> None:
        check_number("DetectorOptions", "min_confidence", self.min_confidence, low=0, high=1, low_open=True,
                     high_open=True)
        check_number("DetectorOptions", "min_suppression", self.min_suppression, low=0, high=1, high_open=True)
        check_number("DetectorOptions", "min_face_size", self.min_face_size, low=1, integer=True)
        check_number("DetectorOptions", "threads", self.threads, low=1, integer=True)
        check_flag("DetectorOptions", "video_mode", self.video_mode)


class FaceDetector:
    def __init__(self, options: DetectorOptions = DetectorOptions()) -> None:
        self.options = options
        path = Path(options.model_path) if options.model_path else shipped_model(FACE_DETECTOR_MODEL)
        if not path.is_file():
            raise ModelError(f"face detector model {path} does not exist; pass model_path=None for the shipped one")
        self._session = _open_session(path, options.threads)
        self._anchors = ssd_anchor_centres()
        self._letterbox = Letterbox(INPUT_SIZE)

    def detect_normalized(self, pixels: np.ndarray, color_order: str = "rgb") -> NormalizedDetections:
        """Faces in one uint8 frame, in fractions of the frame (see :class:`NormalizedDetections`).

        ``pixels``: HxWx3 RGB by default; also gray, BGR (``color_order="bgr"``), RGBA or BGRA, which the
        detector converts on its 128x128 input rather than on the whole frame.
        """
        if self._session is None:
            raise SensorClosedError("this FaceDetector was closed; create a new one")
        if color_order not in ("rgb", "bgr"):
            raise ValueError(f"color_order must be 'rgb' or 'bgr', got {color_order!r}")
        pixels = check_pixels(pixels)
        tensor = self._letterbox.prepare(pixels, color_order)
        try:
            regressors, logits = self._session.run([_BOXES, _SCORES], {_INPUT: tensor})
        finally:
            self._letterbox.clear()  # its 128x128 copy of the frame lives for this call only
        faces = weighted_nms(decode(regressors[0], logits[0], self._anchors, self.options.min_confidence),
                             self.options.min_suppression)
        corners = self._letterbox.to_frame(faces.boxes)
        boxes = np.concatenate([corners[:, :2], corners[:, 2:] - corners[:, :2]], axis=1)
        return NormalizedDetections(boxes, self._letterbox.to_frame(faces.keypoints), faces.scores)

    def detect(self, pixels: np.ndarray, timestamp: float | None = None, color_order: str = "rgb") -> Detections:
        """Faces in one uint8 frame (RGB unless ``color_order="bgr"``; gray and 4-channel frames work too).

        ``timestamp`` (seconds) is required in video mode.
        """
        if self.options.video_mode and timestamp is None and self._session is not None:
            raise ValueError("video mode needs a timestamp per frame (seconds, increasing)")
        found = self.detect_normalized(pixels, color_order)
        if not len(found):
            return Detections()
        height, width = pixels.shape[:2]
        size = np.array([width, height], np.float32)
        # Whole pixels as MediaPipe gives them (truncated), then clamped to the frame.
        origin = (found.boxes[:, :2] * size).astype(np.int32)
        extent = (found.boxes[:, 2:] * size).astype(np.int32)
        start = np.maximum(origin, 0)
        end = np.minimum(origin + extent, np.array([width, height]))
        keep = np.min(end - start, axis=1) >= self.options.min_face_size
        if not keep.any():
            return Detections()
        boxes = np.concatenate([start, end - start], axis=1)[keep].astype(np.int32)
        return Detections(boxes, found.scores[keep], (found.keypoints[keep] * size).astype(np.float32))

    def reset(self) -> None:
        """A new stream starts. Nothing to reset: each frame is detected on its own."""

    def close(self) -> None:
        self._session = None

    def __enter__(self) -> "FaceDetector":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open_session(path: Path, threads: int):
    ort = import_onnxruntime()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own untyped exceptions for bad files
        raise ModelError(f"{path} is not a valid ONNX model ({e}); reinstall emoplay or convert it again with "
                         "models/convert_face_detector.py") from e
    inputs = {i.name: i.shape for i in session.get_inputs()}
    outputs = {o.name: o.shape for o in session.get_outputs()}
    if (inputs.get(_INPUT) != [1, INPUT_SIZE, INPUT_SIZE, 3] or outputs.get(_BOXES) != [1, 896, 16]
            or outputs.get(_SCORES) != [1, 896, 1]):
        raise ModelError(f"{path} is not a BlazeFace short-range face detector (inputs {inputs}, outputs "
                         f"{outputs}); pass model_path=None for the shipped one")
    return session
