"""Events are named as events and hashable; any FrameSource-shaped object is a source."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
from emoplay import EmotionChanged, Frame, Sensor, SensorOptions


def test_the_failure_event_is_named_as_an_event_and_outside_the_error_tree():
    assert emoplay.SensorFailed.__name__ == "SensorFailed"
    assert not issubclass(emoplay.SensorFailed, BaseException)
    assert not hasattr(emoplay, "SensorError")  # no release had that name: no alias for it


def test_emotion_changed_is_hashable_and_keeps_its_mapping():
    a = EmotionChanged(1, "unknown", "happy", 0.8, {"happy": 0.8, "sad": 0.2}, 1.0)
    b = EmotionChanged(1, "unknown", "happy", 0.8, {"sad": 0.2, "happy": 0.8}, 1.0)
    assert {a, b} == {a} and hash(a) == hash(b)
    assert a.probabilities["happy"] == 0.8 and dict(a.probabilities) == {"happy": 0.8, "sad": 0.2}
    assert a.probabilities == {"happy": 0.8, "sad": 0.2}
    with pytest.raises(TypeError):
        a.probabilities["happy"] = 1.0  # type: ignore[index]


def test_every_event_type_is_hashable():
    from emoplay._events import EVENT_TYPES

    samples = [
        EmotionChanged(1, "unknown", "sad", 0.5, {"sad": 0.5}, 0.0),
        emoplay.FaceFound(1, (0, 0, 4, 4), 0.0), emoplay.FaceLost(1, 0.0),
        emoplay.PrimaryFaceChanged(None, 1, 0.0), emoplay.EventsDropped(3, 0.0),
        emoplay.CameraStateChanged(emoplay.CameraState.OFF, emoplay.CameraState.STARTING, "x", 0.0),
        emoplay.SensorFailed("boom", 0.0, RuntimeError("boom")),
        emoplay.CalibrationProgress(1, 0.5, 40, 0.0), emoplay.CalibrationFinished(1, 80, 3.0, 0.0),
        emoplay.CalibrationFailed("no_face", "no face", 0.0),
        emoplay.FaceSignal(1, "happy", 0.8, {"happy": 0.8, "neutral": 0.2}, 0.64, 0.32, 0.0),
    ]
    assert {type(e) for e in samples} == set(EVENT_TYPES.values())
    assert len({hash(e) for e in samples}) == len(samples)


class _CountingSource:
    """A host's own source: not one of emoplay's classes, only the FrameSource members."""

    name = "host frames"
    is_live = False

    def __init__(self, frames: int) -> None:
        self.left = frames
        self.opened = self.closed = 0

    def open(self) -> None:
        self.opened += 1

    def read(self, timeout: float) -> Frame | None:
        if self.left == 0:
            raise emoplay.EndOfStream
        self.left -= 1
        return Frame(np.zeros((120, 160, 3), np.uint8), 0.1 * (5 - self.left), 5 - self.left)

    def close(self) -> None:
        self.closed += 1


def test_an_object_satisfying_the_frame_source_protocol_is_accepted_as_a_source():
    source = _CountingSource(5)
    assert isinstance(source, emoplay.FrameSource)
    with Sensor(SensorOptions(source=source)) as sensor:
        assert sensor.source is source
        sensor.start()
        assert sensor.wait_released(30)
        events = sensor.poll()
    assert sensor.frames_processed == 5 and source.opened == 1 and source.closed >= 1
    assert events[-1] == emoplay.CameraStateChanged(emoplay.CameraState.CAPTURING, emoplay.CameraState.OFF,
                                                    "end of stream", events[-1].timestamp)


def test_an_object_missing_frame_source_members_is_refused_with_the_members_named():
    class NotASource:
        name = "x"

    with pytest.raises(TypeError, match="FrameSource members"):
        Sensor(SensorOptions(source=NotASource()))
