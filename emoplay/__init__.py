"""emoplay: privacy-first, on-device facial emotion events for games and interactive hosts.

    import emoplay

    with emoplay.Sensor(source="camera") as sensor:
        sensor.grant_consent()          # after your own consent screen
        sensor.start()
        while playing:
            for event in sensor.poll():
                if isinstance(event, emoplay.EmotionChanged):
                    ...

``import emoplay`` loads none of cv2, onnxruntime or pygame; they load when a
component that needs them is created. The Pygame adapter lives in ``emoplay.pygame``.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .pipeline._classify import ClassifierOptions, EmotionClassifier, ModelInfo
from ._clock import ManualClock, monotonic_clock
from ._version import __version__
from .pipeline._debounce import STABILITY_PRESETS, DebounceOptions, Debouncer
from .detection import DetectorOptions, Detections, FaceDetector
from ._errors import (
    BridgeError,
    CalibrationError,
    CameraUnavailableError,
    ChecksumError,
    ConsentRequiredError,
    DataError,
    EmoplayError,
    LogAuthenticationError,
    LogError,
    LogFormatError,
    LogTruncatedError,
    MissingExtraError,
    ModelError,
    SensorClosedError,
    SensorStateError,
    SourceError,
    StudyError,
    StudySpecError,
    VideoReadError,
    WorkerError,
)
from ._events import (
    EMOTIONS,
    UNKNOWN,
    CalibrationFailed,
    CalibrationFinished,
    CalibrationProgress,
    CameraState,
    CameraStateChanged,
    EmotionChanged,
    EventsDropped,
    FaceFound,
    FaceLost,
    FaceSignal,
    PrimaryFaceChanged,
    Probabilities,
    SensorFailed,
)
from ._frames import Frame
from .pipeline._pipeline import EmotionPipeline, FrameResult, PipelineOptions
from .sensor._sensor import Sensor, SensorOptions
from .sensor._sources import CameraSource, EndOfStream, FrameSource, ImageFolderSource, MemorySource, VideoFileSource
from .pipeline._track import FaceTracker, TrackerOptions
from .calibration import AutoCalibrationOptions, Baseline, CalibrationOptions


# Loaded on first use: they import heavier libraries (cryptography).
_LAZY = {
    "LogKey": ".sessionlog",
    "SessionLogWriter": ".sessionlog",
    "SessionLog": ".sessionlog",
    "read_session_log": ".sessionlog",
    "verify_session_log": ".sessionlog",
    "generate_key_file": ".sessionlog",
    "LogRecord": ".sessionlog",
    "LogHeader": ".sessionlog",
    "read_log_header": ".sessionlog",
    # Saliency maps (emoplay explain): numpy only until a map is computed.
    "SaliencyExplainer": ".explain._saliency",
    "SaliencyOptions": ".explain._saliency",
    "FaceSaliency": ".explain._saliency",
    "OcclusionOptions": ".explain._occlusion",
    "saliency_map": ".explain._saliency",
}

__all__ = [
    "AutoCalibrationOptions", "Baseline", "BridgeError", "CalibrationError", "CalibrationFailed",
    "CalibrationFinished", "CalibrationOptions", "CalibrationProgress", "CameraSource", "CameraState", "CameraStateChanged", "CameraUnavailableError", "ChecksumError",
    "ClassifierOptions", "ConsentRequiredError", "DataError", "DebounceOptions", "Debouncer", "DetectorOptions",
    "Detections", "EMOTIONS", "EmoplayError", "EmotionChanged", "EmotionClassifier", "EmotionPipeline", "FaceDetector",
    "FaceFound", "FaceLost", "FaceSignal", "FaceTracker", "Frame", "FrameResult", "ImageFolderSource", "LogAuthenticationError",
    "LogError", "LogFormatError", "LogHeader", "LogKey", "LogRecord", "LogTruncatedError", "ManualClock", "MemorySource", "MissingExtraError", "ModelError",
    "ModelInfo", "OcclusionOptions", "FaceSaliency", "SaliencyExplainer", "SaliencyOptions", "saliency_map", "PipelineOptions", "PrimaryFaceChanged", "Probabilities", "Sensor", "SensorClosedError", "SensorFailed",
    "STABILITY_PRESETS", "SensorOptions", "SensorStateError", "EventsDropped", "EndOfStream", "FrameSource",
    "SessionLog", "SessionLogWriter", "SourceError", "StudyError", "StudySpecError", "TrackerOptions", "UNKNOWN", "VideoFileSource", "VideoReadError",
    "WorkerError", "generate_key_file", "monotonic_clock", "read_log_header", "read_session_log", "verify_session_log", "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "SensorError":  # the event's name before 0.2; an event, not an exception
        import warnings

        warnings.warn("emoplay.SensorError was renamed emoplay.SensorFailed", DeprecationWarning, stacklevel=2)
        return SensorFailed
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emoplay' has no attribute {name!r}")
