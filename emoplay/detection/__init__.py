"""emoplay's face detector: MediaPipe's BlazeFace short-range model on onnxruntime, decoded in numpy.

Modules: ``_anchors`` (SSD anchor centres), ``_letterbox`` (frame → model input
and back), ``_decode`` (raw outputs → scored candidates), ``_nms`` (weighted
non-max suppression), ``_detector`` (:class:`FaceDetector`).
"""

from ._detector import DetectorOptions, Detections, FaceDetector, NormalizedDetections

__all__ = ["DetectorOptions", "Detections", "FaceDetector", "NormalizedDetections"]
