"""Event delivery under faults: raising callbacks, a host that never polls,
close() with events still queued, a log that fails, a debouncer kept below its floor, NaN options."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import emoplay
import emoplay.pipeline
from emoplay import EMOTIONS, EmotionChanged, EventsDropped, FaceFound, FaceLost, Sensor, SensorOptions
from emoplay.sessionlog import LogKey
from emoplay.sessionlog import read_session_log
from tests.support.debounce import probs

REPO = Path(__file__).resolve().parents[2]


def finished_run(video, **options) -> Sensor:
    """A sensor that played single_face.mp4 to its end without the host polling once."""
    sensor = Sensor(SensorOptions(source=str(video("single_face.mp4")), **options))
    sensor.start()
    assert sensor.wait_released(60)
    return sensor


def face_kinds(events) -> list[str]:
    return [type(e).__name__ for e in events if isinstance(e, (FaceFound, FaceLost, EmotionChanged))]


@pytest.fixture
def key():
    return LogKey.from_bytes(bytes(range(32)))


# -- one raising callback loses nothing ---------------------------------------------------------------------------

def test_a_raising_callback_does_not_cost_other_subscribers_or_the_log_any_event(video, tmp_path, key):
    sensor = Sensor(source=str(video("single_face.mp4")))
    seen = {name: [] for name in ("FaceFound", "EmotionChanged", "FaceLost")}
    for name, got in seen.items():
        sensor.subscribe(name, got.append)

    def broken(event):
        raise ValueError("the game's handler has a bug")

    sensor.subscribe("FaceFound", broken)  # runs before the later events of the same batch
    sensor.subscribe("EmotionChanged", broken)
    sensor.start_log(tmp_path / "s.emolog", key)
    sensor.start()
    assert sensor.wait_released(60)
    with pytest.raises(ValueError, match="has a bug") as info:
        sensor.poll()
    batch = info.value.events
    assert face_kinds(batch)[0] == "FaceFound" and face_kinds(batch)[-1] == "FaceLost"
    for name, got in seen.items():  # every subscriber got every event of its kind
        assert got == [e for e in batch if type(e).__name__ == name]
    assert any("also raised" in note for note in info.value.__notes__)  # the second error is not hidden
    assert sensor.poll() == []  # nothing left behind, nothing delivered twice
    sensor.close()
    logged = [r.type for r in read_session_log(tmp_path / "s.emolog", key).records]
    assert logged == face_kinds(batch)


# -- dropped events are counted and announced; close() logs what is queued -----------------------------------

@pytest.mark.slow
def test_events_dropped_by_the_queue_limit_are_counted_in_an_event(video):
    unlimited = finished_run(video)
    everything = unlimited.poll()
    unlimited.close()
    limited = finished_run(video, max_queued_events=4)
    batch = limited.poll()
    limited.close()
    assert isinstance(batch[0], EventsDropped) and len(batch) == 5
    assert batch[0].count == len(everything) - 4 == limited.events_dropped
    assert batch[1:] == everything[-4:]
    assert batch[0].timestamp == everything[-5].timestamp  # the newest dropped one's time: same axis


def test_close_writes_the_queued_events_to_the_log_before_closing_it(video, tmp_path, key):
    sensor = Sensor(source=str(video("single_face.mp4")))
    sensor.start_log(tmp_path / "s.emolog", key)
    sensor.start()
    assert sensor.wait_released(60)
    sensor.close()  # the host never polled: every event is still queued
    log = read_session_log(tmp_path / "s.emolog", key)
    assert log.complete
    types = [r.type for r in log.records]
    assert types[0] == "FaceFound" and types[-1] == "FaceLost" and "EmotionChanged" in types
    events = sensor.poll()  # still delivered to the host afterwards
    assert face_kinds(events) == types


def test_stop_log_writes_queued_events_once(video, tmp_path, key):
    sensor = Sensor(source=str(video("single_face.mp4")))
    sensor.start_log(tmp_path / "a.emolog", key)
    sensor.start()
    assert sensor.wait_released(60)
    sensor.stop_log()
    sensor.start_log(tmp_path / "b.emolog", key)
    events = sensor.poll()  # already logged in a.emolog: not written again to b.emolog
    sensor.close()
    assert [r.type for r in read_session_log(tmp_path / "a.emolog", key).records] == face_kinds(events)
    assert read_session_log(tmp_path / "b.emolog", key).records == []


def test_a_log_over_a_restarted_video_keeps_its_times_in_order(video, tmp_path, key):
    # Turning a video source off and on plays it again from its start: the events' stream times begin at 0
    # again, but the log's times go on from where the first play ended.
    sensor = Sensor(source=str(video("single_face.mp4")))
    sensor.start_log(tmp_path / "s.emolog", key)
    plays = []
    for _ in range(2):
        sensor.start()
        assert sensor.wait_released(60)
        plays.append([e for e in sensor.poll() if isinstance(e, (FaceFound, FaceLost, EmotionChanged))])
    sensor.close()
    first, second = plays
    assert first and second and second[0].timestamp < first[-1].timestamp  # the host sees each stream's own times
    times = [r.timestamp for r in read_session_log(tmp_path / "s.emolog", key).records]
    assert len(times) == len(first) + len(second)
    assert times == sorted(times)
    assert times[:len(first)] == [e.timestamp for e in first]  # the first play is logged as it is
    # The second play keeps its own spacing, moved by one shift: its time 0 (the restart) lands on the last
    # logged time, so its first face comes that face's stream time after the first play's end.
    shifts = [t - e.timestamp for t, e in zip(times[len(first):], second)]
    assert shifts == pytest.approx([first[-1].timestamp] * len(second))


def test_a_stop_with_faces_in_view_is_logged_by_close(happy_and_neutral_frames, tmp_path, key):
    import time

    sensor = Sensor(source="memory")
    sensor.start_log(tmp_path / "s.emolog", key)
    sensor.start()
    seen, t = [], 0.0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any(isinstance(e, FaceFound) for e in seen):
        sensor.submit(happy_and_neutral_frames["happy"][0], t)
        t += 1 / 30
        time.sleep(0.01)
        seen += sensor.poll()
    sensor.close()  # the final FaceLost (from stopping) was never polled
    assert [r.type for r in read_session_log(tmp_path / "s.emolog", key).records][-1] == "FaceLost"


# -- a log that fails is raised once and detached; the events keep flowing ---------------------------------------

def face_kinds_named(names: list[str]) -> list[str]:
    return [n for n in names if n in ("FaceFound", "FaceLost", "EmotionChanged")]


LOG_ON_A_SMALL_DISK = textwrap.dedent("""
    import json, resource, signal, sys
    from emoplay import LogError, Sensor
    from emoplay.sessionlog import LogKey
    path, video, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # over the limit: write() returns short, then EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    sensor = Sensor(source=video)
    delivered = []
    for name in ("FaceFound", "EmotionChanged", "FaceLost"):
        sensor.subscribe(name, lambda event: delivered.append(type(event).__name__))
    sensor.start_log(path, LogKey.from_bytes(bytes(range(32))))
    batches = []
    for _ in range(2):  # the video twice: a second stream after the log failed
        sensor.start()
        assert sensor.wait_released(60)
        try:
            batch, raised = sensor.poll(), None
        except LogError as error:
            batch, raised = error.events, str(error)
        batches.append({"events": [type(e).__name__ for e in batch], "raised": raised, "logging": sensor.sink_attached})
    sensor.stop_log()  # the failed log is gone already: nothing to raise again
    sensor.close()
    print(json.dumps({"batches": batches, "delivered": delivered}))
""")


def test_a_log_that_fails_is_raised_once_and_detached_while_the_events_keep_flowing(video, tmp_path, key):
    """RLIMIT_FSIZE makes the kernel refuse the log's writes, as a full disk does: one poll() raises the
    LogError (every callback still got the batch), later polls deliver their events without the log."""
    from emoplay.sessionlog._format import HEADER_SIZE

    path = tmp_path / "s.emolog"
    limit = HEADER_SIZE + 2 * 276 + 100  # room for two records and part of a third
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONDONTWRITEBYTECODE="1")
    out = subprocess.run([sys.executable, "-c", LOG_ON_A_SMALL_DISK, str(path), str(video("single_face.mp4")),
                          str(limit)], capture_output=True, text=True, timeout=300, cwd=REPO, env=env)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    first, second = result["batches"]
    assert first["raised"] and "File too large" in first["raised"] and not first["logging"]
    assert second["raised"] is None and not second["logging"]  # raised once; the log is detached
    assert face_kinds_named(first["events"]) == face_kinds_named(second["events"])  # the same video, all of it
    assert result["delivered"] == face_kinds_named(first["events"]) + face_kinds_named(second["events"])
    log = read_session_log(path, key, allow_truncated=True)
    assert not log.complete and [r.type for r in log.records] == face_kinds_named(first["events"])[:2]
    assert path.stat().st_size == limit


# -- the floor holds for the current emotion ---------------------------------------------------------------------

@pytest.mark.parametrize("preset", list(emoplay.STABILITY_PRESETS))
def test_the_current_emotion_is_not_kept_below_the_confidence_floor(preset):
    options = emoplay.DebounceOptions.preset(preset)
    debouncer = emoplay.pipeline.Debouncer(EMOTIONS, options)  # floor 0.35
    events = [debouncer.update(1, probs(happy=0.9), k / 30) for k in range(30)]
    weak = probs(happy=0.30, sad=0.36)  # sad leads by less than any margin; happy is below the floor
    events += [debouncer.update(1, weak, 1 + k / 30) for k in range(90)]
    changes = [e for e in events if e is not None]
    assert changes[0].current == "happy"
    # happy goes once its average is under the floor (~0.2 s) and the floor hold is over
    assert changes[1].previous == "happy" and changes[1].timestamp <= 1.3 + options.dwell_s + options.floor_hold_s
    emotion, confidence = debouncer.current(1)
    assert emotion != "happy"
    if preset == "responsive":  # no evidence needed: sad, just above the floor, takes over
        assert changes[-1].current == "sad" and changes[-1].confidence >= 0.35
        assert emotion == "sad" and confidence >= 0.35


# -- options reject NaN and infinity ---------------------------------------------------------------------------

NOT_FINITE = [
    (emoplay.DebounceOptions, "smoothing_s"), (emoplay.DebounceOptions, "dwell_s"),
    (emoplay.DebounceOptions, "margin"), (emoplay.DebounceOptions, "confidence_floor"),
    (emoplay.TrackerOptions, "lost_after_s"), (emoplay.TrackerOptions, "iou_threshold"),
    (emoplay.TrackerOptions, "confirm_score"), (emoplay.SensorOptions, "indicator_timeout_s"),
    (emoplay.SensorOptions, "fps"), (emoplay.DetectorOptions, "min_confidence"),
    (emoplay.DetectorOptions, "min_suppression"),
]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("options, name", NOT_FINITE, ids=[f"{o.__name__}.{n}" for o, n in NOT_FINITE])
def test_options_reject_values_that_are_not_finite(options, name, value):
    with pytest.raises(ValueError, match=name):
        options(**{name: value})


@pytest.mark.parametrize("options, name", [
    (emoplay.PipelineOptions, "detect_every"), (emoplay.ClassifierOptions, "threads"),
    (emoplay.TrackerOptions, "confirm_hits"), (emoplay.SensorOptions, "max_queued_events"),
])
def test_integer_options_reject_nan_and_floats(options, name):
    for value in (math.nan, 2.5):
        with pytest.raises((TypeError, ValueError), match=name):
            options(**{name: value})


def test_a_nan_smoothing_never_reaches_an_event():
    with pytest.raises(ValueError, match="DebounceOptions.smoothing_s must be a finite number"):
        emoplay.DebounceOptions(smoothing_s=math.nan)
