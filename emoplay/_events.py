"""Every event emoplay emits, declared in one place.

Events are frozen, hashable dataclasses. Every event of one stream carries its
``timestamp`` on one time base, the stream's: seconds of frame time (a video's
frame index / fps, a camera's or a submitted frame's capture time). Events that
no frame caused (camera state changes, faces lost on stop/pause, a failure)
carry the time of the last frame seen, or the sensor clock's time before the
first frame, so a log or plot of one stream has one axis.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Iterator, Mapping

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
UNKNOWN = "unknown"


class CameraState(str, enum.Enum):
    OFF = "off"
    STARTING = "starting"
    CAPTURING = "capturing"
    PAUSED = "paused"
    ERROR = "error"


class Probabilities(Mapping[str, float]):
    """A read-only, hashable mapping of class name to probability (``EmotionChanged.probabilities``)."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, float] | tuple = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        self._items: tuple[tuple[str, float], ...] = tuple((str(k), float(v)) for k, v in pairs)

    def __getitem__(self, name: str) -> float:
        for key, value in self._items:
            if key == name:
                return value
        raise KeyError(name)

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other.items())
        return NotImplemented

    def __repr__(self) -> str:
        return f"Probabilities({dict(self._items)!r})"


@dataclass(frozen=True)
class EmotionChanged:
    """A track's debounced emotion changed. ``current`` may be ``"unknown"``."""

    track_id: int
    previous: str
    current: str
    confidence: float
    probabilities: Mapping[str, float]  # stored as a hashable, read-only Probabilities mapping
    timestamp: float

    def __post_init__(self) -> None:
        if not isinstance(self.probabilities, Probabilities):
            object.__setattr__(self, "probabilities", Probabilities(self.probabilities))


@dataclass(frozen=True)
class FaceSignal:
    """A face's continuous reading, sent at ``SensorOptions.signal_hz`` (and from ``Sensor.latest()``): the
    debounced ``emotion`` (``"unknown"`` when unsure) and its ``confidence``, the smoothed ``probabilities``
    (the same averages the debouncer decides on, steadier than one frame's) and their ``valence`` and
    ``arousal`` (each -1..1; the circumplex table in ``emoplay._valence_arousal``)."""

    track_id: int
    emotion: str
    confidence: float
    probabilities: Mapping[str, float]  # stored as a hashable, read-only Probabilities mapping
    valence: float
    arousal: float
    timestamp: float

    def __post_init__(self) -> None:
        if not isinstance(self.probabilities, Probabilities):
            object.__setattr__(self, "probabilities", Probabilities(self.probabilities))


@dataclass(frozen=True)
class FaceFound:
    track_id: int
    box: tuple[int, int, int, int]  # x, y, width, height in frame pixels
    timestamp: float
    is_primary: bool = False


@dataclass(frozen=True)
class FaceLost:
    track_id: int
    timestamp: float


@dataclass(frozen=True)
class CameraStateChanged:
    previous: CameraState
    current: CameraState
    reason: str
    timestamp: float


@dataclass(frozen=True)
class PrimaryFaceChanged:
    """The primary face (the one ``Sensor.primary_emotion()`` reports) changed; None: no face."""

    previous: int | None
    current: int | None
    timestamp: float


@dataclass(frozen=True)
class EventsDropped:
    """The host polled too rarely: ``count`` events were dropped (oldest first) since the last poll."""

    count: int
    timestamp: float


# Why a calibration failed (CalibrationFailed.reason).
CALIBRATION_FAILURES = ("no_face", "face_lost", "several_faces", "too_short", "unstable")


@dataclass(frozen=True)
class CalibrationProgress:
    """A calibration collected ``fraction`` (0..1) of its relaxed-face time, ``frames`` frames so far."""

    track_id: int
    fraction: float
    frames: int
    timestamp: float


@dataclass(frozen=True)
class CalibrationFinished:
    """The calibration succeeded: from now on the primary face's probabilities are calibrated."""

    track_id: int
    frames: int
    seconds: float
    timestamp: float


@dataclass(frozen=True)
class CalibrationFailed:
    """No stable face was seen; the previous calibration (if any) stays. ``reason``: one of CALIBRATION_FAILURES."""

    reason: str
    message: str
    timestamp: float


@dataclass(frozen=True)
class SensorFailed:
    """The worker failed; the sensor stopped. ``error`` is the exception, also raised by the next poll()."""

    message: str
    timestamp: float
    error: BaseException | None = field(default=None, compare=False, hash=False, repr=False)


Event = (EmotionChanged | FaceFound | FaceLost | PrimaryFaceChanged | CameraStateChanged | EventsDropped
         | CalibrationProgress | CalibrationFinished | CalibrationFailed | SensorFailed | FaceSignal)

EVENT_TYPES: dict[str, type] = {
    "EmotionChanged": EmotionChanged,
    "FaceFound": FaceFound,
    "FaceLost": FaceLost,
    "PrimaryFaceChanged": PrimaryFaceChanged,
    "CameraStateChanged": CameraStateChanged,
    "EventsDropped": EventsDropped,
    "CalibrationProgress": CalibrationProgress,
    "CalibrationFinished": CalibrationFinished,
    "CalibrationFailed": CalibrationFailed,
    "SensorFailed": SensorFailed,
    "FaceSignal": FaceSignal,
}


def event_name(event: object) -> str:
    return type(event).__name__
