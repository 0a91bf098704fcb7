"""Continuous signals: Sensor.latest() and FaceSignal events at signal_hz, on a real video with the real model."""

from __future__ import annotations

import pytest

import emoplay
from emoplay import CameraState, EmotionChanged, FaceLost, FaceSignal
from tests.support import drain_until


def run_video(path, **options):
    """Run ``path`` to its end; (every event, what latest() said after each frame, as seen on the worker)."""
    readings = []
    sensor = emoplay.Sensor(source=str(path), on_frame=lambda t, result: readings.append((t, sensor.latest())),
                            **options)
    with sensor:
        sensor.start()
        events = drain_until(sensor, lambda ev: sensor.camera_state is CameraState.OFF and not sensor.running)
        events += sensor.poll()
        assert sensor.latest() is None  # the face was lost at the end of the stream
    return events, readings


def test_face_signals_come_at_the_rate_with_smoothed_probabilities_and_the_debounced_emotion(video):
    events, _ = run_video(video("single_face.mp4"), signal_hz=10.0)
    signals = [e for e in events if isinstance(e, FaceSignal)]
    assert signals and len({s.track_id for s in signals}) == 1
    gaps = [b.timestamp - a.timestamp for a, b in zip(signals, signals[1:])]
    assert min(gaps) >= 0.1 - 1e-6 and max(gaps) < 0.1 + 1 / 25  # one per 0.1 s of video, to the frame
    span = signals[-1].timestamp - signals[0].timestamp
    assert len(signals) == pytest.approx(span * 10 + 1, abs=1)
    for signal in signals:
        assert set(signal.probabilities) == set(emoplay.EMOTIONS)
        assert sum(signal.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
        assert -1 <= signal.valence <= 1 and -1 <= signal.arousal <= 1
    # The emotion a signal carries is the debounced one: the last EmotionChanged before it.
    changes = [e for e in events if isinstance(e, EmotionChanged)]
    for signal in signals:
        before = [c for c in changes if c.timestamp <= signal.timestamp]
        assert signal.emotion == (before[-1].current if before else "unknown")
    last = signals[-1]  # the man smiles broadly at the end of the clip
    assert last.emotion == "happy" and last.probabilities["happy"] > 0.5 and last.valence > 0.3
    lost = [e for e in events if isinstance(e, FaceLost)]
    assert lost and all(s.timestamp <= lost[-1].timestamp for s in signals)


def test_latest_is_the_primary_faces_reading_of_the_newest_frame_without_any_event(video):
    events, readings = run_video(video("single_face.mp4"))
    assert not [e for e in events if isinstance(e, FaceSignal)]  # signal_hz 0: latest() only
    read = [(t, r) for t, r in readings if r is not None]
    assert len(read) > 0.8 * len(readings)
    assert all(r.timestamp == t for t, r in read)
    assert read[-1][1].emotion == "happy" and read[-1][1].valence > 0.3


@pytest.mark.parametrize("bad", [-1.0, 61.0, float("nan")])
def test_signal_hz_outside_0_to_60_is_refused(bad):
    with pytest.raises(ValueError, match="signal_hz"):
        emoplay.SensorOptions(source="memory", signal_hz=bad)

