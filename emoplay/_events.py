"""Every event emoplay emits, declared in one place.

Events are frozen dataclasses. ``timestamp`` is in seconds on the sensor's
monotonic clock (the frame's capture time for face events).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Mapping

EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
UNKNOWN = "unknown"


class CameraState(str, enum.Enum):
    OFF = "off"
    STARTING = "starting"
    CAPTURING = "capturing"
    PAUSED = "paused"
    ERROR = "error"


@dataclass(frozen=True)
class EmotionChanged:
    """A track's debounced emotion changed. ``current`` may be ``"unknown"``."""

    track_id: int
    previous: str
    current: str
    confidence: float
    probabilities: Mapping[str, float]
    timestamp: float


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
class SensorError:
    """The worker failed; the sensor stopped. ``error`` is the exception, also raised by the next poll()."""

    message: str
    timestamp: float
    error: BaseException | None = field(default=None, compare=False, repr=False)


Event = EmotionChanged | FaceFound | FaceLost | CameraStateChanged | SensorError

EVENT_TYPES: dict[str, type] = {
    "EmotionChanged": EmotionChanged,
    "FaceFound": FaceFound,
    "FaceLost": FaceLost,
    "CameraStateChanged": CameraStateChanged,
    "SensorError": SensorError,
}


def event_name(event: object) -> str:
    return type(event).__name__
