"""Calibration in the running library: real videos through the real detector and model, in
EmotionPipeline and in Sensor (events through poll() and subscribe)."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from tests.support import VIDEOS, require_shared
from emoplay.calibration import AutoCalibrationOptions, Baseline

# single_face.mp4: a man, neutral from 0.13 s (first face) to ~0.55 s, then a broad smile.
NEUTRAL_START_S = 0.4


def frames_of(name: str, tile: bool = False):
    """Every frame of a shared video as (pixels, timestamp); ``tile``: the frame twice side by side (two faces)."""
    from emoplay.sensor._sources import EndOfStream, VideoFileSource

    source = VideoFileSource(require_shared(VIDEOS / name))
    source.open()
    frames = []
    try:
        while True:
            frame = source.read(1.0)
            pixels = np.hstack([frame.pixels, frame.pixels]) if tile else frame.pixels.copy()
            frames.append((pixels, frame.timestamp))
    except EndOfStream:
        pass
    finally:
        source.close()
    return frames


def run(pipeline, frames):
    """(events, per-frame results) of ``frames`` through ``pipeline``, the stream ended at the last frame."""
    events, results = [], []
    for pixels, t in frames:
        result = pipeline.process(pixels, t)
        events += result.events
        results.append(result)
    events += pipeline.end_stream(frames[-1][1])
    return events, results


def calibration_events(events):
    return [e for e in events if type(e).__name__.startswith("Calibration")]


def primary_probs(result):
    if result.primary_id is None or result.primary_id not in result.track_ids:
        return None
    return result.probabilities[result.track_ids.index(result.primary_id)]


@pytest.fixture(scope="module")
def single_face():
    return frames_of("single_face.mp4")


@pytest.fixture(scope="module")
def side_by_side():
    """Raw and calibrated pipelines over the same frames of single_face.mp4 (calibrated on its neutral start)."""
    frames = frames_of("single_face.mp4")
    with emoplay.pipeline.EmotionPipeline() as raw, emoplay.pipeline.EmotionPipeline() as calibrated:
        calibrated.calibrate(seconds=NEUTRAL_START_S)
        raw_events, raw_results = run(raw, frames)
        events, results = run(calibrated, frames)
        return {"raw_events": raw_events, "raw": raw_results, "events": events, "results": results,
                "baseline": calibrated.calibration.baseline, "profile": calibrated.export_calibration()}


@pytest.mark.slow
def test_calibration_finishes_with_progress_on_a_neutral_start(side_by_side):
    events = calibration_events(side_by_side["events"])
    progress = [e for e in events if isinstance(e, emoplay.CalibrationProgress)]
    finished = [e for e in events if isinstance(e, emoplay.CalibrationFinished)]
    assert len(finished) == 1 and not [e for e in events if isinstance(e, emoplay.CalibrationFailed)]
    assert len(progress) >= 5 and progress[-1].fraction == 1.0
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)
    assert finished[0].frames >= 10 and finished[0].seconds == pytest.approx(NEUTRAL_START_S, abs=0.04)
    assert finished[0].timestamp < 0.6  # it ends before the smile


def test_probabilities_change_exactly_as_the_baseline_predicts(side_by_side, single_face):
    finished = next(e for e in side_by_side["events"] if isinstance(e, emoplay.CalibrationFinished))
    found = next(e for e in side_by_side["events"] if isinstance(e, emoplay.FaceFound))
    collected, before, after = [], 0, 0
    for (_, t), r_raw, r in zip(single_face, side_by_side["raw"], side_by_side["results"]):
        p_raw, p = primary_probs(r_raw), primary_probs(r)
        if p_raw is None:
            continue
        if t >= found.timestamp and t <= finished.timestamp:
            collected.append(p_raw)  # the frames the calibration saw
        if t < finished.timestamp:
            np.testing.assert_allclose(p, p_raw, rtol=1e-6)  # uncalibrated until it finished
            before += 1
        else:  # from the finishing frame on
            np.testing.assert_allclose(p, side_by_side["baseline"].apply(p_raw), rtol=1e-5, atol=1e-6)
            after += 1
    assert before >= 10 and after >= 40 and len(collected) == finished.frames
    expected = Baseline.from_probabilities(np.stack(collected), emoplay.EMOTIONS)
    np.testing.assert_allclose(side_by_side["baseline"].log_probabilities, expected.log_probabilities, rtol=1e-5)


def test_a_neutral_baseline_takes_neutral_out_of_the_smile_and_the_events_follow(side_by_side):
    happy, neutral = emoplay.EMOTIONS.index("happy"), emoplay.EMOTIONS.index("neutral")
    raw = np.stack([primary_probs(r) for r in side_by_side["raw"][-30:]])
    calibrated = np.stack([primary_probs(r) for r in side_by_side["results"][-30:]])
    # The resting face was neutral: neutral is divided down, the classes it lacked are lifted.
    assert calibrated[:, neutral].mean() < 0.6 * raw[:, neutral].mean()
    assert (calibrated.argmax(axis=1) == happy).mean() >= 0.9 and (raw.argmax(axis=1) == happy).mean() >= 0.9
    changes = [e for e in side_by_side["events"] if isinstance(e, emoplay.EmotionChanged)]
    # Reported as happy takes the lead: neutral, divided down, fell below the floor, so the dwell ran from its fall.
    assert changes[-1].current == "happy" and changes[-1].confidence > 0.55
    last = next(e for e in reversed(side_by_side["raw_events"]) if isinstance(e, emoplay.EmotionChanged))
    assert changes[-1].probabilities["neutral"] < last.probabilities["neutral"]  # the debounced figures too


def test_reset_and_recalibrate(single_face):
    with emoplay.pipeline.EmotionPipeline() as pipeline:
        pipeline.calibrate(seconds=NEUTRAL_START_S)
        run(pipeline, single_face[:20])
        assert pipeline.calibration.baseline is not None
        pipeline.reset_calibration()
        assert pipeline.calibration.baseline is None and pipeline.export_calibration() is None
        pipeline.recalibrate(seconds=0.3)
        events, _ = run(pipeline, single_face[:15])
        assert any(isinstance(e, emoplay.CalibrationFinished) for e in events)


@pytest.mark.parametrize("video, tile, options, reason", [
    ("no_face_animation.mp4", False, emoplay.CalibrationOptions(seconds=1, face_timeout_s=1.5), "no_face"),
    ("face_then_noface.mov", False, emoplay.CalibrationOptions(seconds=6), "face_lost"),
    ("single_face.mp4", True, emoplay.CalibrationOptions(seconds=1), "several_faces"),
    ("single_face.mp4", False, emoplay.CalibrationOptions(seconds=5), "too_short"),  # the video ends at 2.4 s
    ("single_face.mp4", False, emoplay.CalibrationOptions(seconds=1), "unstable"),  # neutral, then a smile
])
@pytest.mark.slow
def test_failures_on_real_videos(video, tile, options, reason):
    frames = frames_of(video, tile)
    with emoplay.pipeline.EmotionPipeline() as pipeline:
        pipeline.calibrate(options=options)
        events, _ = run(pipeline, frames)
        outcome = [e for e in calibration_events(events) if not isinstance(e, emoplay.CalibrationProgress)]
        assert len(outcome) == 1 and isinstance(outcome[0], emoplay.CalibrationFailed)
        assert outcome[0].reason == reason and outcome[0].message
        assert pipeline.calibration.baseline is None


def test_a_failed_recalibration_keeps_the_previous_baseline(side_by_side, single_face):
    with emoplay.pipeline.EmotionPipeline() as pipeline:
        pipeline.import_calibration(side_by_side["profile"])
        pipeline.calibrate(seconds=5)  # longer than the video: fails
        events, _ = run(pipeline, single_face)
        assert [e.reason for e in events if isinstance(e, emoplay.CalibrationFailed)] == ["too_short"]
        assert pipeline.export_calibration() == side_by_side["profile"]


def test_automatic_mode_calibrates_each_track_from_its_first_neutral_frames(single_face):
    auto = emoplay.PipelineOptions(auto_calibration=AutoCalibrationOptions(seconds=NEUTRAL_START_S, min_frames=5))
    with emoplay.pipeline.EmotionPipeline() as raw, emoplay.pipeline.EmotionPipeline(auto) as pipeline:
        _, raw_results = run(raw, single_face)
        _, results = run(pipeline, single_face)
    times = [t for _, t in single_face]
    same, changed = 0, 0
    for t, r_raw, r in zip(times, raw_results, results):
        p_raw, p = primary_probs(r_raw), primary_probs(r)
        if p_raw is None:
            continue
        if t < 0.5:
            np.testing.assert_allclose(p, p_raw, rtol=1e-6)
            same += 1
        elif not np.allclose(p, p_raw, atol=1e-4):
            changed += 1
    assert same >= 8 and changed >= 40


# -- the Sensor ----------------------------------------------------------------------------------------------

def drain(sensor):
    """Poll until the video has ended; every event."""
    import time

    events, deadline = [], time.monotonic() + 60
    while time.monotonic() < deadline:
        events += sensor.poll()
        if sensor.camera_state is emoplay.CameraState.OFF and not sensor.running:
            return events + sensor.poll()
        time.sleep(0.01)
    raise AssertionError("the video did not end within 60 s")


@pytest.mark.slow
def test_sensor_calibrates_and_delivers_through_poll_and_subscribe():
    seen = []
    with emoplay.Sensor(source=str(require_shared(VIDEOS / "single_face.mp4"))) as sensor:
        sensor.subscribe("CalibrationFinished", seen.append)
        sensor.subscribe("CalibrationProgress", seen.append)
        assert not sensor.calibrated and sensor.export_calibration() is None
        sensor.calibrate(seconds=NEUTRAL_START_S)  # before start: applies from the first frame
        sensor.start()
        events = drain(sensor)
        finished = [e for e in events if isinstance(e, emoplay.CalibrationFinished)]
        assert len(finished) == 1 and finished[0] in seen
        assert sum(isinstance(e, emoplay.CalibrationProgress) for e in seen) >= 5
        assert sensor.calibrated
        profile = sensor.export_calibration()
    assert isinstance(profile, bytes) and b"neutral" in profile and len(profile) < 400

    with emoplay.Sensor(source=str(VIDEOS / "single_face.mp4")) as other:
        other.import_calibration(profile)
        assert other.calibrated and other.export_calibration() == profile
        other.start()
        events = drain(other)
        assert not [e for e in events if type(e).__name__.startswith("Calibration")]
        other.reset_calibration()
        assert not other.calibrated
        with pytest.raises(emoplay.CalibrationError, match="damaged"):
            other.import_calibration(profile[:-1] + bytes([profile[-1] ^ 1]))
        with pytest.raises(ValueError, match="seconds"):
            other.calibrate(seconds=0)


def test_sensor_stopped_during_calibration_reports_too_short():
    with emoplay.Sensor(source=str(require_shared(VIDEOS / "single_face.mp4")), realtime=True) as sensor:
        sensor.calibrate(options=emoplay.CalibrationOptions(seconds=2.0, progress_step=0.05))
        sensor.start()  # the video plays at its own speed: the calibration would end at 2.1 s of its 2.4 s
        import time

        deadline = time.monotonic() + 20
        events = []
        while not any(isinstance(e, emoplay.CalibrationProgress) for e in events) and time.monotonic() < deadline:
            events += sensor.poll()
            time.sleep(0.01)
        sensor.stop()
        events += sensor.poll()
        failed = [e for e in events if isinstance(e, emoplay.CalibrationFailed)]
        assert [f.reason for f in failed] == ["too_short"] and not sensor.calibrated, events
        assert "capture stopped after" in failed[0].message
        assert not [e for e in events if isinstance(e, emoplay.CalibrationFinished)]
