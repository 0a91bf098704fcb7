"""The Sensor's life cycle, consent, indicator heartbeat, threads and errors, with the real pipeline."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest

import emoplay
from emoplay import CameraState, CameraStateChanged, EmotionChanged, FaceFound, FaceLost, SensorFailed
from emoplay.sensor._sources import MemorySource
from tests.support import drain_until


def states(events):
    return [(e.previous.value, e.current.value) for e in events if isinstance(e, CameraStateChanged)]


@pytest.mark.slow
def test_video_file_runs_to_the_end(video):
    with emoplay.Sensor(source=str(video("single_face.mp4"))) as sensor:
        assert sensor.camera_state is CameraState.OFF
        sensor.start()
        events = drain_until(sensor, lambda ev: sensor.camera_state is CameraState.OFF and not sensor.running)
        events += sensor.poll()
    assert states(events) == [("off", "starting"), ("starting", "capturing"), ("capturing", "off")]
    assert [e.reason for e in events if isinstance(e, CameraStateChanged)][-1] == "end of stream"
    kinds = [type(e) for e in events if not isinstance(e, CameraStateChanged)]
    assert kinds[0] is FaceFound and kinds[-2:] == [FaceLost, emoplay.PrimaryFaceChanged]
    assert [e.current for e in events if isinstance(e, EmotionChanged)][-1] == "happy"


@pytest.mark.slow
def test_callbacks_run_on_the_host_thread_and_bound_methods_are_weak(video):
    import gc
    import weakref

    calls = []  # outside the Npc, so calls made after it is gone would still show

    class Npc:
        def on_emotion(self, event):
            calls.append((event, threading.get_ident()))

    npc = Npc()
    second_run = []  # a plain function is held strongly: it proves the second run delivered events
    with emoplay.Sensor(source=str(video("single_face.mp4"))) as sensor:
        sensor.subscribe("EmotionChanged", npc.on_emotion)
        with pytest.raises(ValueError, match="unknown event 'Emotion'"):
            sensor.subscribe("Emotion", npc.on_emotion)
        sensor.start()
        first = drain_until(sensor, lambda ev: not sensor.running)
        first += sensor.poll()
        changes = [e for e in first if isinstance(e, EmotionChanged)]
        assert changes and [e for e, _ in calls] == changes  # every EmotionChanged, once, in order
        assert {tid for _, tid in calls} == {threading.get_ident()}
        assert changes[-1].current == "happy"
        gone = weakref.ref(npc)
        del npc
        gc.collect()
        assert gone() is None  # the sensor did not keep the Npc alive
        sensor.subscribe("EmotionChanged", second_run.append)
        sensor.start()  # the video again; the dead subscriber is simply gone
        drain_until(sensor, lambda ev: not sensor.running and any(isinstance(e, FaceLost) for e in ev))
    assert second_run and len(calls) == len(changes)  # events flowed, none reached the dead Npc


def test_camera_needs_consent_first():
    sensor = emoplay.Sensor(source=9)  # no camera 9 here, but consent is checked before the device is touched
    with pytest.raises(emoplay.ConsentRequiredError, match="grant_consent"):
        sensor.start()
    assert sensor.camera_state is CameraState.OFF
    sensor.grant_consent()
    with pytest.raises(emoplay.CameraUnavailableError, match="camera 9.*--source FILE"):
        sensor.start()
    assert sensor.camera_state is CameraState.ERROR
    sensor.close()


def live_memory_sensor(**options):
    source = MemorySource(live=True)
    return emoplay.Sensor(emoplay.SensorOptions(source=source, **options)), source


def test_withdrawing_consent_stops_capture_and_releases_the_camera(happy_and_neutral_frames):
    sensor, source = live_memory_sensor()
    sensor.grant_consent()
    sensor.start()
    sensor.heartbeat()
    t = 0.0
    for _ in range(10):
        sensor.submit(happy_and_neutral_frames["happy"][0], t)
        t += 1 / 30
        time.sleep(0.01)
    released_before = source.released
    sensor.withdraw_consent()
    assert not sensor.running
    assert source.released == released_before + 1
    assert sensor.camera_state is CameraState.OFF
    assert states(sensor.poll())[-1] == ("capturing", "off")
    with pytest.raises(emoplay.ConsentRequiredError):
        sensor.start()
    sensor.close()


def test_capture_pauses_without_the_indicator_and_resumes_when_drawn():
    clock = emoplay.ManualClock(100.0)
    sensor, source = live_memory_sensor(clock=clock, indicator_timeout_s=1.0)
    sensor.grant_consent()
    sensor.start()
    clock.advance(1.5)  # the host stopped drawing the indicator
    events = drain_until(sensor, lambda ev: sensor.camera_state is CameraState.PAUSED)
    paused = [e for e in events if isinstance(e, CameraStateChanged) and e.current is CameraState.PAUSED]
    assert "indicator not drawn" in paused[0].reason
    assert source.released >= 1
    sensor.heartbeat()  # drawn again
    drain_until(sensor, lambda ev: sensor.camera_state is CameraState.CAPTURING)
    sensor.close()
    assert sensor.camera_state is CameraState.OFF


def test_pause_resume_stop_close_and_use_after_close(video):
    sensor = emoplay.Sensor(source=str(video("talking_smiling.mp4")), realtime=True)
    sensor.start()
    drain_until(sensor, lambda ev: sensor.frames_processed > 3)
    sensor.pause()
    assert not sensor.running and sensor.camera_state is CameraState.PAUSED
    frames = sensor.frames_processed
    time.sleep(0.1)
    assert sensor.frames_processed == frames  # nothing runs while paused
    sensor.resume()
    drain_until(sensor, lambda ev: sensor.frames_processed > frames)
    with pytest.raises(emoplay.SensorStateError, match="paused"):
        sensor.resume()
    sensor.stop()
    assert not sensor.running and sensor.camera_state is CameraState.OFF
    sensor.close()
    sensor.close()  # idempotent
    with pytest.raises(emoplay.SensorClosedError):
        sensor.start()


@pytest.mark.slow
def test_a_paused_memory_source_refuses_frames_and_keeps_none(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][0]
    with emoplay.Sensor(source="memory") as sensor:
        sensor.start()
        assert sensor.submit(frame, 0.0)
        drain_until(sensor, lambda ev: sensor.frames_processed == 1)
        sensor.pause()
        assert sensor.submit(frame, 0.1) is False and sensor.source.refused == 1
        assert sensor.source.read(0.01) is None  # nothing was kept for later
        sensor.resume()
        assert sensor.submit(frame, 0.2)
        drain_until(sensor, lambda ev: sensor.frames_processed == 2)


@pytest.mark.slow
def test_a_new_start_is_a_new_stream_whose_timestamps_start_again():
    frame = np.zeros((120, 160, 3), np.uint8)  # no face: no track to end, only the clock
    with emoplay.Sensor(source="memory") as sensor:
        sensor.start()
        sensor.submit(frame, 100.0)
        drain_until(sensor, lambda ev: sensor.frames_processed == 1)
        sensor.pause()  # a paused source keeps its stream; stop() while paused ends it
        sensor.stop()
        sensor.start()
        sensor.submit(frame, 0.0)  # the host's clock for the new stream starts at 0
        drain_until(sensor, lambda ev: sensor.frames_processed == 2)
        assert sensor.camera_state is CameraState.CAPTURING


def test_submit_refuses_a_timestamp_that_is_not_finite_or_goes_backwards():
    frame = np.zeros((120, 160, 3), np.uint8)
    with emoplay.Sensor(source="memory") as sensor:
        sensor.start()
        assert sensor.submit(frame, 5.0)
        for bad in (float("nan"), float("inf"), "later"):
            with pytest.raises(ValueError, match="finite number of seconds"):
                sensor.submit(frame, bad)
        with pytest.raises(ValueError, match="earlier than the previous frame's 5.0"):
            sensor.submit(frame, 4.0)
        assert sensor.submit(frame, 5.0) and sensor.running  # the worker never saw the bad ones


def test_the_last_frames_results_go_when_the_sensor_closes(video):
    sensor = emoplay.Sensor(source=str(video("single_face.mp4")))
    sensor.start()
    drain_until(sensor, lambda ev: sensor.last_result is not None and len(sensor.last_result.track_ids) > 0)
    sensor.close()
    assert sensor.last_result is None  # DATA_FLOW.md: "until the next frame or the sensor closes"


def test_worker_errors_reach_the_host_as_event_and_exception(tmp_path, happy_and_neutral_frames):
    import cv2

    cv2.imwrite(str(tmp_path / "a.png"), happy_and_neutral_frames["happy"][0])
    (tmp_path / "b.png").write_bytes(b"not a png at all")
    got = []
    with emoplay.Sensor(source=str(tmp_path)) as sensor:
        sensor.subscribe("SensorFailed", got.append)
        sensor.start()
        deadline = time.monotonic() + 20
        with pytest.raises(emoplay.WorkerError, match="b.png") as info:
            while time.monotonic() < deadline:
                sensor.poll()
                time.sleep(0.01)
        assert sensor.camera_state is CameraState.ERROR
    assert len(got) == 1 and isinstance(got[0], SensorFailed)
    assert isinstance(info.value.__cause__, emoplay.VideoReadError)


@pytest.mark.slow
def test_memory_source_submit_and_primary_emotion(happy_and_neutral_frames):
    with emoplay.Sensor(source="memory") as sensor:
        with pytest.raises(emoplay.SensorStateError):
            emoplay.Sensor(source=str(__file__)).submit(np.zeros((4, 4), np.uint8))
        sensor.start()
        assert sensor.primary_emotion() is None
        t = 0.0
        for frame in [happy_and_neutral_frames["happy"][0]] * 40:
            sensor.submit(frame, t)
            t += 1 / 30
            time.sleep(0.02)
        drain_until(sensor, lambda ev: any(isinstance(e, EmotionChanged) for e in ev))
        emotion, confidence = sensor.primary_emotion()
        assert emotion == "happy" and confidence > 0.5


class JsonLinesSink:
    """An event sink of the game's own: one JSON line per event, in a real file."""

    def __init__(self, path) -> None:
        self.file = open(path, "w", encoding="utf-8")
        self.closes = 0

    def write(self, event) -> None:
        self.file.write(json.dumps({"type": type(event).__name__, "t": event.timestamp}) + "\n")

    def close(self) -> None:
        self.closes += 1
        self.file.close()


def lines(path) -> list[tuple[str, float]]:
    return [(d["type"], d["t"]) for d in map(json.loads, path.read_text().splitlines())]


def test_any_event_sink_gets_every_delivered_event_and_the_queued_ones_when_detached(video, tmp_path):
    sensor = emoplay.Sensor(source=str(video("single_face.mp4")))
    with pytest.raises(TypeError, match="write"):
        sensor.attach_sink(tmp_path / "not a sink")
    sink = JsonLinesSink(tmp_path / "polled.jsonl")
    sensor.attach_sink(sink)
    assert sensor.sink_attached
    second = JsonLinesSink(tmp_path / "second.jsonl")
    with pytest.raises(emoplay.SensorStateError, match="already attached"):
        sensor.attach_sink(second)
    second.close()
    sensor.start()
    polled = drain_until(sensor, lambda ev: sensor.camera_state is CameraState.OFF and not sensor.running)
    polled += sensor.poll()
    sensor.detach_sink()
    assert not sensor.sink_attached and sink.closes == 1
    assert lines(tmp_path / "polled.jsonl") == [(type(e).__name__, e.timestamp) for e in polled]

    queued = JsonLinesSink(tmp_path / "queued.jsonl")  # a second stream, never polled before close()
    sensor.attach_sink(queued)
    sensor.start()
    assert sensor.wait_released(60)
    sensor.close()
    assert queued.closes == 1
    events = sensor.poll()  # still delivered to the host afterwards, and not written twice
    assert lines(tmp_path / "queued.jsonl") == [(type(e).__name__, e.timestamp) for e in events]
    assert [kind for kind, _ in lines(tmp_path / "queued.jsonl")].count("FaceFound") >= 1


def test_the_sensor_package_loads_no_session_log_code():
    """The session log is one event sink, plugged in by the code that opens it: the sensor does not import it."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import importlib, pkgutil, sys, emoplay.sensor\n"
            "for m in pkgutil.iter_modules(emoplay.sensor.__path__): importlib.import_module('emoplay.sensor.' + m.name)\n"
            "emoplay.Sensor(source='memory').close()\n"
            "print(sorted(m for m in sys.modules if m.startswith('emoplay.sessionlog')))")
    env = {"PYTHONPATH": str(Path(__file__).parents[1]), "PATH": ""}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
