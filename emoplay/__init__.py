"""emoplay: privacy-first, on-device facial emotion events for games and interactive hosts.

    import emoplay

    with emoplay.Sensor(source="camera") as sensor:
        sensor.grant_consent()          # after your own consent screen
        sensor.start()
        while playing:
            sensor.heartbeat()          # each frame your camera indicator is on screen
            for event in sensor.poll():
                if isinstance(event, emoplay.EmotionChanged):
                    npc.react(event.current, event.confidence)

This module is the API for game code: the sensor, its options and frame sources, the
events, the camera state, the emotion names, the errors and a manual clock for tests.
The parts behind it have their own packages: ``emoplay.pipeline`` (classifier, tracker,
debouncer), ``emoplay.detection``, ``emoplay.calibration``, ``emoplay.sessionlog``
(encrypted logs), ``emoplay.explain`` (saliency maps), ``emoplay.bridge``,
``emoplay.study``; the Pygame adapter is ``emoplay.pygame``.

``import emoplay`` loads none of cv2, onnxruntime or pygame; they load when a
component that needs them is created.
"""

from __future__ import annotations

from ._clock import ManualClock
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
    Event,
    EventsDropped,
    FaceFound,
    FaceLost,
    FaceSignal,
    PrimaryFaceChanged,
    Probabilities,
    SensorFailed,
)
from ._frames import Frame
from ._version import __version__
from .calibration import AutoCalibrationOptions, CalibrationOptions
from .detection import DetectorOptions
from .pipeline import STABILITY_PRESETS, ClassifierOptions, DebounceOptions, PipelineOptions, TrackerOptions
from .sensor import (
    CameraSource,
    EndOfStream,
    FrameSource,
    ImageFolderSource,
    MemorySource,
    Sensor,
    SensorOptions,
    VideoFileSource,
)

__all__ = [
    # the sensor, its options and frame sources
    "Sensor", "SensorOptions", "STABILITY_PRESETS", "PipelineOptions", "ClassifierOptions", "DetectorOptions",
    "TrackerOptions", "DebounceOptions", "CalibrationOptions", "AutoCalibrationOptions",
    "FrameSource", "CameraSource", "VideoFileSource", "ImageFolderSource", "MemorySource", "Frame", "EndOfStream",
    # events (what poll() returns) and the camera state
    "Event", "EmotionChanged", "FaceFound", "FaceLost", "FaceSignal", "PrimaryFaceChanged", "CameraStateChanged",
    "EventsDropped", "CalibrationProgress", "CalibrationFinished", "CalibrationFailed", "SensorFailed", "Probabilities",
    "CameraState", "EMOTIONS", "UNKNOWN",
    # errors
    "EmoplayError", "SourceError", "CameraUnavailableError", "VideoReadError", "ModelError", "ChecksumError",
    "SensorStateError", "ConsentRequiredError", "SensorClosedError", "WorkerError", "DataError", "MissingExtraError",
    "CalibrationError", "BridgeError", "LogError", "LogAuthenticationError", "LogTruncatedError", "LogFormatError",
    "StudyError", "StudySpecError",
    # tests and replays
    "ManualClock",
    "__version__",
]
