"""emoplay's face detector: MediaPipe's BlazeFace models (short and full range) on onnxruntime, decoded in numpy.

Modules: ``_anchors`` (the two models and their SSD anchor centres), ``_letterbox`` (frame → model input
and back), ``_decode`` (raw outputs → scored candidates), ``_nms`` (weighted
non-max suppression), ``_auto`` (which model runs with ``range="auto"``), ``_tiles`` (the full-range model on
tiles of a large frame, ``tiles=...``), ``_detector`` (:class:`FaceDetector`).
"""

from ._detector import DetectorOptions, Detections, FaceDetector, NormalizedDetections
from ._tiles import parse_tiles

__all__ = ["DetectorOptions", "Detections", "FaceDetector", "NormalizedDetections", "parse_tiles"]
