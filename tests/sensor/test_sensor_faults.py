"""Sensor fault injection: the real detector, model and threads
against cameras that block or raise, sources that fail mid-stream, and hosts that stop at any moment."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from emoplay import CameraSource, CameraState, CameraStateChanged, EmotionChanged, FaceFound, FaceLost, PrimaryFaceChanged, Sensor
from emoplay import SensorFailed, SensorOptions
from tests.support import drain_until as poll_until
from tests.support.fakes import BlockingCamera, BlockingCapture, FailingVideo, RaisingCapture, SlowOpeningCamera, poll_until_failure

# The promise: camera-off returns to the game within 100 ms, whatever the camera driver does.
CAMERA_OFF_S = 0.100


@pytest.fixture
def happy_frame(happy_and_neutral_frames):
    return happy_and_neutral_frames["happy"][0]


def camera_sensor(source) -> Sensor:
    sensor = Sensor(SensorOptions(source=source, require_indicator=False))
    sensor.grant_consent()
    return sensor


# -- camera-off within 100 ms while read() blocks ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "pause", "withdraw_consent"])
def test_camera_off_returns_within_100_ms_while_read_blocks_and_the_source_is_still_released(happy_frame, how):
    camera = BlockingCamera(happy_frame, block_s=3.0)
    sensor = camera_sensor(camera)
    sensor.start()
    assert camera.blocking.wait(30), "the camera never reached its blocking read"
    frames = sensor.frames_processed
    start = time.perf_counter()
    getattr(sensor, how)()
    returned = time.perf_counter() - start
    assert returned < CAMERA_OFF_S, f"{how}() took {returned * 1000:.0f} ms with a blocked read"
    assert sensor.camera_state is (CameraState.PAUSED if how == "pause" else CameraState.OFF)
    assert not sensor.running and sensor.primary_emotion() is None
    assert camera.is_open  # the read is still blocked inside the driver...
    assert sensor.wait_released(10)  # ...and as soon as it returns, the worker releases the camera
    assert not camera.is_open and camera.closed_at >= camera.read_returned_at
    assert camera.closed_on is not threading.main_thread()
    assert sensor.frames_processed == frames  # the frame that arrived after the request was dropped
    sensor.close()


@pytest.mark.slow
@pytest.mark.parametrize("how", ["stop", "withdraw_consent"])
def test_camera_source_with_a_blocked_driver_read_turns_off_within_100_ms(happy_frame, how):
    capture = BlockingCapture(happy_frame, block_s=3.0)
    sensor = camera_sensor(CameraSource(0, opener=lambda device: capture))
    sensor.start()
    assert capture.blocking.wait(30)
    start = time.perf_counter()
    getattr(sensor, how)()
    returned = time.perf_counter() - start
    assert returned < CAMERA_OFF_S, f"{how}() took {returned * 1000:.0f} ms with a blocked driver read"
    assert sensor.camera_state is CameraState.OFF
    assert not capture.released.is_set()  # the driver still holds the device inside read()...
    assert sensor.wait_released(10) and capture.released.is_set()  # ...and the grab thread releases it after
    assert capture.released_on is not threading.main_thread()
    sensor.close()


# -- start() neither holds the lock nor runs on the game thread -------------------------------------------------

def test_stop_is_not_blocked_by_a_start_that_is_opening_the_camera(happy_frame):
    camera = SlowOpeningCamera(happy_frame, open_s=5.0)
    sensor = camera_sensor(camera)
    outcome = []
    starter = threading.Thread(target=lambda: outcome.append(sensor.start()))  # start(wait=True) on a host thread
    starter.start()
    assert camera.opening.wait(30)
    start = time.perf_counter()
    sensor.stop()
    returned = time.perf_counter() - start
    assert returned < CAMERA_OFF_S, f"stop() waited {returned * 1000:.0f} ms behind start()"
    starter.join(5)
    assert not starter.is_alive() and outcome == [None]  # the waiting start() returned when stopped
    assert sensor.camera_state is CameraState.OFF
    camera.let_open.set()
    assert sensor.wait_released(10) and not camera.is_open  # opened late, closed by the worker at once
    assert camera.opened_on is not threading.main_thread()
    sensor.close()


def test_start_without_waiting_opens_on_the_worker_and_reports_capturing(happy_frame):
    camera = SlowOpeningCamera(happy_frame, open_s=5.0)
    sensor = camera_sensor(camera)
    sensor.start(wait=False)
    assert sensor.camera_state is CameraState.STARTING  # returned before the camera opened
    assert camera.opening.wait(30)
    camera.let_open.set()
    poll_until(sensor, lambda ev: sensor.camera_state is CameraState.CAPTURING)
    assert camera.opened_on is not threading.main_thread()
    sensor.close()
    assert sensor.wait_released(10) and not camera.is_open


# -- a camera whose read() raises --------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_camera_whose_read_raises_fails_the_sensor_and_releases_the_device(happy_frame):
    capture = RaisingCapture(happy_frame, OSError("VIDIOC_DQBUF: No such device"), fail_from=30)
    with camera_sensor(CameraSource(0, opener=lambda device: capture)) as sensor:
        failed = []
        sensor.subscribe("SensorFailed", failed.append)
        sensor.start()
        error, events = poll_until_failure(sensor)
        assert sensor.camera_state is CameraState.ERROR and not sensor.running
        assert capture.released.wait(10)
        assert isinstance(error.__cause__, emoplay.CameraUnavailableError)
        assert "No such device" in str(error.__cause__) and isinstance(error.__cause__.__cause__, OSError)
        assert len(failed) == 1 and isinstance(failed[0], SensorFailed)
        assert [e.current for e in events if isinstance(e, emoplay.CameraStateChanged)][-1] is CameraState.ERROR


# -- a worker failure loses every face and the current emotion ---------------------------------------------------

def test_a_failure_mid_stream_reports_every_face_lost_and_clears_the_emotion(video):
    source = FailingVideo(video("single_face.mp4"), frames=65, error=RuntimeError("decoder crashed"))
    with Sensor(SensorOptions(source=source)) as sensor:
        sensor.start()
        error, events = poll_until_failure(sensor)
        found = {e.track_id for e in events if isinstance(e, FaceFound)}
        lost = [e.track_id for e in events if isinstance(e, FaceLost)]
        assert found and sorted(lost) == sorted(found)
        assert any(isinstance(e, EmotionChanged) and e.current == "happy" for e in events)
        kinds = [type(e).__name__ for e in events]
        assert kinds[-4:] == ["FaceLost", "PrimaryFaceChanged", "CameraStateChanged", "SensorFailed"]
        assert sensor.camera_state is CameraState.ERROR
        assert sensor.primary_emotion() is None and sensor.primary_track_id is None
        assert "decoder crashed" in str(error) and source.closed >= 1


@pytest.mark.slow
def test_the_pygame_bridge_posts_the_failure_and_raises_worker_error(video):
    import pygame

    from emoplay.pygame import FACE_LOST, SENSOR_FAILED, PygameEventBridge

    pygame.init()
    try:
        pygame.display.set_mode((64, 64))
        source = FailingVideo(video("single_face.mp4"), frames=65, error=RuntimeError("decoder crashed"))
        with Sensor(SensorOptions(source=source)) as sensor:
            bridge = PygameEventBridge(sensor)
            sensor.start()
            posted, deadline = [], time.monotonic() + 30
            with pytest.raises(emoplay.WorkerError, match="decoder crashed"):
                while time.monotonic() < deadline:
                    bridge.pump()
                    posted += pygame.event.get()
                    time.sleep(0.005)
            posted += pygame.event.get()
        types = [e.type for e in posted]
        assert SENSOR_FAILED in types and FACE_LOST in types
        assert types.index(FACE_LOST) < types.index(SENSOR_FAILED)
    finally:
        pygame.quit()


# -- primary emotion current without poll(), nothing stale after stop -----------------------------------------

def test_primary_emotion_is_current_without_poll_and_cleared_by_stop(happy_frame):
    sensor = Sensor(source="memory")
    sensor.start()
    deadline, t = time.monotonic() + 30, 0.0
    while time.monotonic() < deadline and (sensor.primary_emotion() or ("",))[0] != "happy":
        sensor.submit(happy_frame, t)  # never poll(): the game only reads primary_emotion()
        t += 1 / 30
        time.sleep(0.01)
    emotion, confidence = sensor.primary_emotion()
    assert emotion == "happy" and confidence > 0.5 and sensor.primary_track_id is not None
    primary = sensor.primary_track_id
    sensor.stop()
    assert sensor.primary_emotion() is None and sensor.primary_track_id is None
    events = sensor.poll()
    changes = [(e.previous, e.current) for e in events if isinstance(e, PrimaryFaceChanged)]
    assert changes == [(None, primary), (primary, None)]
    sensor.close()


# -- one time base for every event of a stream ------------------------------------------------------------------

def test_every_event_of_a_video_carries_stream_time_also_when_stopped(video):
    with Sensor(source=str(video("single_face.mp4"))) as sensor:
        sensor.start()
        events = poll_until(sensor, lambda ev: any(isinstance(e, EmotionChanged) for e in ev))
        sensor.stop()
        events += sensor.poll()
    times = [e.timestamp for e in events]
    assert times == sorted(times), f"time goes back: {times}"
    assert times[0] == 0.0 and times[-1] <= 72 / 30  # all on the clip's own 0..2.4 s axis
    lost = [e for e in events if isinstance(e, FaceLost)]
    last_frame = max(e.timestamp for e in events if isinstance(e, (FaceFound, EmotionChanged)))
    assert lost and all(e.timestamp >= last_frame for e in lost)
    assert events[-1].timestamp == lost[-1].timestamp  # the stop's state change: same axis, same moment


class _FailsOnFirstFrame:
    """Opens, then cannot decode its first frame (a video damaged after its header)."""

    name, is_live = "damaged source", False

    def open(self) -> None:
        pass

    def read(self, timeout: float):
        raise emoplay.VideoReadError("frame 0 cannot be decoded")

    def close(self) -> None:
        pass


def test_a_failure_after_the_source_opened_is_not_raised_by_start_but_reported_once_by_poll():
    for _ in range(3):
        with Sensor(source=_FailsOnFirstFrame()) as sensor:
            sensor.start()  # the source opened: start() has nothing to raise, whenever the first read fails
            error, events = poll_until_failure(sensor)
            assert isinstance(error.__cause__, emoplay.VideoReadError)
            assert len([e for e in events if isinstance(e, SensorFailed)]) == 1


# -- the frame in flight when the host pauses or stops ------------------------------------------------------------

def _hold_after(sensor: Sensor, event_type):
    """Make the worker wait, after processing the first frame that produced an ``event_type``, until released: the
    host's pause() or stop() then lands while that frame is in flight. (in flight, release) events."""
    pipeline = sensor._pipelines.ensure()
    process, in_flight, release = pipeline.process, threading.Event(), threading.Event()

    def held(*args, **kwargs):
        result = process(*args, **kwargs)
        if not in_flight.is_set() and any(isinstance(e, event_type) for e in result.events):
            in_flight.set()
            release.wait(10)
        return result

    pipeline.process = held
    return in_flight, release


@pytest.mark.slow
def test_a_paused_file_reports_what_the_frame_in_flight_changed(video):
    with Sensor(source=video("single_face.mp4")) as sensor:
        in_flight, release = _hold_after(sensor, FaceFound)
        sensor.start()
        assert in_flight.wait(60)
        sensor.pause()  # while the frame that found the face is still being published
        release.set()
        assert sensor.wait_released(10)
        sensor.resume()
        events = poll_until(sensor, lambda seen: any(isinstance(e, CameraStateChanged) and e.current is CameraState.OFF
                                                     for e in seen), timeout=120)
    found = {e.track_id for e in events if isinstance(e, FaceFound)}
    told = {e.track_id for e in events if isinstance(e, (EmotionChanged, FaceLost))}
    assert found == {1} and told <= found, "the host heard of a face it was never told was found"
    assert [(e.previous, e.current) for e in events if isinstance(e, PrimaryFaceChanged)][0] == (None, 1)


def test_a_calibration_ended_by_the_frame_in_flight_at_stop_reports_its_outcome(video):
    with Sensor(source=video("talking_smiling.mp4")) as sensor:
        in_flight, release = _hold_after(sensor, emoplay.CalibrationFinished)
        sensor.calibrate(options=emoplay.CalibrationOptions(seconds=0.5, max_instability=1.0))
        sensor.start()
        assert in_flight.wait(120)
        sensor.stop()
        release.set()
        assert sensor.wait_released(10)
        events = sensor.poll()
        outcomes = [e for e in events if isinstance(e, (emoplay.CalibrationFinished, emoplay.CalibrationFailed))]
        assert sensor.calibrated and [type(e) for e in outcomes] == [emoplay.CalibrationFinished]


# -- crops and frames live for one step ---------------------------------------------------------------------------

def _arrays_reachable_from(root) -> list[np.ndarray]:
    """Every numpy array reachable from ``root`` through object references (not through modules or code)."""
    import types

    skip = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.CodeType, type, types.FrameType)
    seen, stack, arrays = set(), [root], []
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, skip):
            continue
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            arrays.append(obj)
            if obj.base is not None:
                stack.append(obj.base)
            continue
        if isinstance(obj, threading.Thread):
            continue
        stack.extend(gc.get_referents(obj))
        if hasattr(obj, "__dict__"):
            stack.append(obj.__dict__)
        for slot in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, slot):
                stack.append(getattr(obj, slot))
    return arrays


def _holds(array: np.ndarray, needle: bytes) -> bool:
    return needle in np.ascontiguousarray(array).tobytes()


def test_no_buffer_keeps_a_crop_or_a_frame_after_stop(happy_frame):
    import cv2

    sensor = Sensor(source="memory")
    sensor.start()
    poll_until_face = []
    deadline, t = time.monotonic() + 30, 0.0
    while time.monotonic() < deadline and not any(isinstance(e, EmotionChanged) for e in poll_until_face):
        sensor.submit(happy_frame, t)
        t += 1 / 30
        time.sleep(0.01)
        poll_until_face += sensor.poll()
    assert any(isinstance(e, EmotionChanged) for e in poll_until_face)
    classifier = sensor._pipelines.pipeline.classifier
    boxes = sensor.last_result.detections.boxes
    gray = cv2.cvtColor(happy_frame, cv2.COLOR_BGR2GRAY)
    crop = classifier.crop_faces(gray, boxes)[0]  # exactly the crop the pipeline classified
    normalised = (crop.astype(np.float32) * classifier._scale - classifier._offset).astype(np.float32)
    sensor.stop()
    assert sensor.wait_released(10)
    assert sensor.submit(happy_frame) is False  # a stopped sensor keeps no frame
    row = np.ascontiguousarray(happy_frame[happy_frame.shape[0] // 2]).tobytes()
    arrays = _arrays_reachable_from(sensor)
    assert arrays, "the walk found no arrays at all: it would prove nothing"
    assert not [a.shape for a in arrays if _holds(a, crop.tobytes())], "a face crop outlived its step"
    assert not [a.shape for a in arrays if _holds(a, normalised.tobytes())], "a normalised crop outlived its step"
    assert not [a.shape for a in arrays if np.shares_memory(a, happy_frame) or _holds(a, row)], "a frame was kept"
    sensor.close()


class _OneBadFrame:
    """A source whose first frame the pipeline refuses (two channels): the worker fails inside its step."""

    name, is_live = "bad frame source", False

    def __init__(self) -> None:
        self.delivered: list = []  # weak references to the pixels handed to the sensor

    def open(self) -> None:
        pass

    def read(self, timeout: float):
        import weakref

        pixels = np.full((60, 80, 2), 77, np.uint8)
        self.delivered.append(weakref.ref(pixels))
        return emoplay.Frame(pixels, 0.0, 0)

    def close(self) -> None:
        pass


@pytest.mark.slow
def test_a_failed_step_keeps_no_frame_in_the_error_the_host_gets():
    source = _OneBadFrame()
    sensor = Sensor(source=source)
    sensor.start(wait=False)
    error, events = poll_until_failure(sensor)
    assert "unsupported frame shape" in str(error)
    failures = [e for e in events if isinstance(e, SensorFailed)]
    assert failures and failures[0].error is sensor._last_run.error  # the errors the host may keep
    sensor.close()
    gc.collect()
    assert source.delivered and all(ref() is None for ref in source.delivered), \
        "the failed frame's pixels live on through the error's traceback"


@pytest.mark.slow
def test_a_failed_camera_keeps_no_frame_in_its_stored_failure(happy_frame):
    import weakref

    class RecordingCapture(RaisingCapture):
        def read(self):
            ok, pixels = super().read()
            self.delivered.append(weakref.ref(pixels))
            return ok, pixels

    capture = RecordingCapture(happy_frame, OSError("VIDIOC_DQBUF: No such device"), fail_from=10)
    capture.delivered = []
    camera = CameraSource(0, opener=lambda device: capture)
    sensor = camera_sensor(camera)
    sensor.start()
    error, _ = poll_until_failure(sensor)
    assert isinstance(error.__cause__, emoplay.CameraUnavailableError) and capture.released.wait(10)
    sensor.close()
    gc.collect()
    assert len(capture.delivered) == 9
    assert all(ref() is None for ref in capture.delivered), "a camera frame lives on through the stored failure"


def test_the_classifier_keeps_no_crop_after_classifying_or_closing(fer_val):
    images = fer_val[0][:4]
    with emoplay.pipeline.EmotionClassifier() as classifier:
        classifier.classify_crops(images)
        assert not np.any(classifier._batch), "the input batch still holds the crops"
    assert classifier._batch.size == 0
