"""Where the face detector used to live; it is now the :mod:`emoplay.detection` subpackage."""

from .detection import DetectorOptions, Detections, FaceDetector, NormalizedDetections

__all__ = ["DetectorOptions", "Detections", "FaceDetector", "NormalizedDetections"]
