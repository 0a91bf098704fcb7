"""The Sensor: a frame source and the pipeline on a worker thread, events to the host's thread.

Life cycle and camera states::

    OFF --start()--> STARTING --> CAPTURING --pause()/indicator not drawn--> PAUSED
     ^                                |  ^                                     |
     +--stop()/close()/withdraw_consent()/end of video--+  +----resume()/indicator drawn again---+
    any state --worker failure--> ERROR (a SensorFailed event, and WorkerError from poll())

The worker only queues events; the host drains them with :meth:`Sensor.poll`
from its own loop, where subscribed callbacks run. A camera opens only after
:meth:`grant_consent`, and (by default) capture runs only while the host keeps
calling :meth:`heartbeat` — which the Pygame ``CameraIndicator`` does each
time it is drawn — so the camera cannot run without a visible indicator.
Pausing, stopping and withdrawing consent join the worker and release the
camera before they return.
"""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ._clock import Clock, monotonic_clock
from ._dispatch import EventDispatcher
from ._errors import ConsentRequiredError, SensorClosedError, SensorStateError, WorkerError
from ._events import UNKNOWN, CameraState, CameraStateChanged, EmotionChanged, FaceLost, SensorFailed
from ._pipeline import EmotionPipeline, PipelineOptions
from ._sources import EndOfStream, FrameSource, MemorySource, source_from_spec

# How long the worker waits for a frame before it re-checks stop requests and the indicator heartbeat.
# It bounds how quickly stop()/pause() can release the camera: 20 ms keeps camera-off well under 100 ms.
_READ_TIMEOUT_S = 0.02


@dataclass(frozen=True)
class SensorOptions:
    source: Any = "camera"  # "camera", an index, "/dev/videoN", a video file, an image folder, or "memory"
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    width: int | None = None  # requested camera size and rate
    height: int | None = None
    fps: float | None = None
    realtime: bool = False  # video files: play at the file's own speed instead of as fast as possible
    loop: bool = False  # video files: start again at the end
    require_consent: bool | None = None  # None: yes for cameras
    require_indicator: bool | None = None  # None: yes for cameras (capture pauses without heartbeat())
    indicator_timeout_s: float = 1.0
    max_queued_events: int = 10_000  # if the host never polls, the oldest events are dropped
    clock: Clock = monotonic_clock
    # Called on the worker thread with (frame timestamp, FrameResult) after every processed frame, for recorders
    # that need each frame's probabilities (emoplay.study). It gets no pixels; keep it quick. If it raises, the
    # worker fails like any other worker error.
    on_frame: Callable[[float, Any], None] | None = None

    def __post_init__(self) -> None:
        if self.indicator_timeout_s <= 0:
            raise ValueError(f"indicator_timeout_s must be > 0, got {self.indicator_timeout_s}")
        if self.max_queued_events < 1:
            raise ValueError("max_queued_events must be >= 1")


class Sensor:
    def __init__(self, options: SensorOptions | None = None, **kwargs: Any) -> None:
        if options is not None and kwargs:
            raise TypeError("pass either SensorOptions or keyword options, not both")
        self.options = options or SensorOptions(**kwargs)
        self.clock = self.options.clock
        self.source: FrameSource = source_from_spec(
            self.options.source, realtime=self.options.realtime, loop=self.options.loop, width=self.options.width,
            height=self.options.height, fps=self.options.fps, clock=self.clock)
        live = self.source.is_live
        self._needs_consent = live if self.options.require_consent is None else self.options.require_consent
        self._needs_indicator = live if self.options.require_indicator is None else self.options.require_indicator
        self._pipeline: EmotionPipeline | None = None
        self._lock = threading.RLock()  # life-cycle calls on the host side; the worker never takes it
        self._state_lock = threading.Lock()
        self._state = CameraState.OFF
        self._events: collections.deque = collections.deque(maxlen=self.options.max_queued_events)
        self._dispatcher = EventDispatcher()
        self._worker: threading.Thread | None = None
        self._stop = threading.Event()
        self._heartbeat_seen = threading.Event()
        self._last_heartbeat = self.clock()
        self._consent = False
        self._closed = False
        self._emotions: dict[int, tuple[str, float]] = {}
        self._primary_id: int | None = None
        self._log = None
        self.frames_processed = 0
        self.last_result = None

    # -- consent and indicator -------------------------------------------------------------------------------
    @property
    def has_consent(self) -> bool:
        return self._consent

    def grant_consent(self) -> None:
        """Record that the player agreed (after the host's own consent screen). Required before a camera opens."""
        self._consent = True

    def withdraw_consent(self) -> None:
        """The player said no: stop capturing at once and release the camera."""
        with self._lock:
            self._consent = False
            if self._state not in (CameraState.OFF, CameraState.ERROR) or self.running:
                self._halt(CameraState.OFF, "consent withdrawn")

    def heartbeat(self) -> None:
        """The host drew the camera indicator this frame (the Pygame CameraIndicator calls this)."""
        self._last_heartbeat = self.clock()
        self._heartbeat_seen.set()

    # -- life cycle ------------------------------------------------------------------------------------------
    @property
    def camera_state(self) -> CameraState:
        return self._state

    @property
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def start(self) -> None:
        """Open the source and start the worker. Raises the source's error (e.g. no camera) right here."""
        with self._lock:
            self._check_open()
            if self.running:
                return
            if self._needs_consent and not self._consent:
                raise ConsentRequiredError(
                    "the camera may not open before the player consents: show your consent screen, then call "
                    "sensor.grant_consent()")
            self._set_state(CameraState.STARTING, "starting")
            try:
                if self._pipeline is None:
                    self._pipeline = EmotionPipeline(self.options.pipeline)
                self.source.open()
            except BaseException as e:
                self.source.close()
                self._set_state(CameraState.ERROR, str(e))
                raise
            self._last_heartbeat = self.clock()
            self._stop.clear()
            self._set_state(CameraState.CAPTURING, "capturing")
            self._worker = threading.Thread(target=self._run, name="emoplay-sensor", daemon=True)
            self._worker.start()

    def pause(self) -> None:
        """Stop capturing, join the worker and release a camera; resume() continues."""
        with self._lock:
            self._check_open()
            if self._state in (CameraState.CAPTURING, CameraState.STARTING) or self.running:
                self._halt(CameraState.PAUSED, "paused by host", release=self.source.is_live)

    def resume(self) -> None:
        with self._lock:
            self._check_open()
            if self._state is not CameraState.PAUSED:
                raise SensorStateError(f"resume() needs a paused sensor; it is {self._state.value}: use start()")
            self.start()

    def stop(self) -> None:
        """Stop capturing and release the source. Faces in view are reported lost."""
        with self._lock:
            if self._state is not CameraState.OFF or self.running:
                self._halt(CameraState.OFF, "stopped by host")

    def close(self) -> None:
        """Stop, release everything, close an open session log. Safe to call more than once."""
        with self._lock:
            if self._closed:
                return
            self.stop()
            if self._pipeline is not None:
                self._pipeline.close()
                self._pipeline = None
            self.stop_log()
            self._closed = True

    def __enter__(self) -> "Sensor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise SensorClosedError("this Sensor was closed; create a new one")

    def _halt(self, state: CameraState, reason: str, release: bool = True) -> None:
        self._stop.set()
        self._heartbeat_seen.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join()
        self._worker = None
        if release:
            self.source.close()
        if self._pipeline is not None and (release or state is CameraState.OFF):
            for event in self._pipeline.end_stream(self.clock()):
                self._events.append(event)
        self._set_state(state, reason)

    def _set_state(self, state: CameraState, reason: str) -> None:
        with self._state_lock:
            previous, self._state = self._state, state
        if previous is not state:
            self._events.append(CameraStateChanged(previous, state, reason, self.clock()))

    # -- the worker ------------------------------------------------------------------------------------------
    def _run(self) -> None:
        pipeline = self._pipeline
        last_timestamp: float | None = None  # of the last frame processed: when its faces were last seen
        try:
            while not self._stop.is_set():
                if self._needs_indicator and self.clock() - self._last_heartbeat > self.options.indicator_timeout_s:
                    if not self._wait_for_indicator():
                        return
                frame = self.source.read(_READ_TIMEOUT_S)
                if frame is None:
                    continue
                result = pipeline.process(frame.pixels, frame.timestamp, frame.color_order)
                last_timestamp = frame.timestamp
                del frame  # pixels are not kept past the pipeline step
                self._primary_id = result.primary_id
                self.frames_processed += 1
                self.last_result = result
                if self.options.on_frame is not None:
                    self.options.on_frame(last_timestamp, result)
                self._events.extend(result.events)
        except EndOfStream:
            self._events.extend(pipeline.end_stream(self.clock() if last_timestamp is None else last_timestamp))
            self.source.close()
            self._set_state(CameraState.OFF, "end of stream")
        except BaseException as e:  # noqa: BLE001 - every worker failure must reach the host
            self.source.close()
            self._set_state(CameraState.ERROR, f"{type(e).__name__}: {e}")
            self._events.append(SensorFailed(f"{type(e).__name__}: {e}", self.clock(), e))

    def _wait_for_indicator(self) -> bool:
        """Pause capture (camera released) until the indicator is drawn again; False if stopping."""
        self.source.close()
        if self._pipeline is not None:
            self._events.extend(self._pipeline.end_stream(self.clock()))
        self._set_state(CameraState.PAUSED, f"camera indicator not drawn for {self.options.indicator_timeout_s:g} s")
        while not self._stop.is_set():
            self._heartbeat_seen.clear()
            if self.clock() - self._last_heartbeat <= self.options.indicator_timeout_s:
                break
            self._heartbeat_seen.wait(0.1)
        if self._stop.is_set():
            return False
        self._set_state(CameraState.STARTING, "camera indicator drawn again")
        self.source.open()
        self._set_state(CameraState.CAPTURING, "capturing")
        return True

    # -- host side -------------------------------------------------------------------------------------------
    def submit(self, pixels: np.ndarray, timestamp: float | None = None) -> None:
        """Hand the sensor a frame (source="memory"): hosts that own their camera, and tests."""
        if not isinstance(self.source, MemorySource):
            raise SensorStateError(f"submit() needs SensorOptions(source='memory'); this sensor reads {self.source.name}")
        self.source.submit(pixels, timestamp)

    def subscribe(self, name: str, callback: Callable[[Any], Any]) -> None:
        """Run ``callback(event)`` on the host thread, inside poll(), for each event called ``name``."""
        self._dispatcher.subscribe(name, callback)

    def unsubscribe(self, name: str, callback: Callable[[Any], Any]) -> None:
        self._dispatcher.unsubscribe(name, callback)

    def poll(self) -> list:
        """Drain the events queued since the last call, run subscribed callbacks, write the log.

        If the worker failed, its ``SensorFailed`` event is delivered and then ``WorkerError`` is raised
        (the drained events are on ``error.events``).
        """
        drained = []
        while self._events:
            drained.append(self._events.popleft())
        failure = None
        for event in drained:
            if isinstance(event, EmotionChanged):
                self._emotions[event.track_id] = (event.current, event.confidence)
            elif isinstance(event, FaceLost):
                self._emotions.pop(event.track_id, None)
            elif isinstance(event, SensorFailed):
                failure = event
            if self._log is not None:
                self._log.write(event)
            self._dispatcher.dispatch(event)
        if failure is not None:
            error = WorkerError(f"the emoplay worker stopped: {failure.message}")
            error.events = drained
            raise error from failure.error
        return drained

    def primary_emotion(self) -> tuple[str, float] | None:
        """(emotion, confidence) of the primary face, ``("unknown", 0.0)`` if unsure, None without a face."""
        primary = self._primary_id
        if primary is None:
            return None
        return self._emotions.get(primary, (UNKNOWN, 0.0))

    @property
    def primary_track_id(self) -> int | None:
        return self._primary_id

    # -- calibration (emoplay/calibration): the player's relaxed face taken out of every frame ---------------------
    def calibrate(self, seconds: float = 3.0, options: Any = None) -> None:
        """Calibrate the primary face over the next ``seconds`` of frames (ask the player to relax first).

        Returns at once; the worker reports ``CalibrationProgress`` and then ``CalibrationFinished`` or
        ``CalibrationFailed`` through poll()/subscribe. A previous baseline stays in use until a new one
        finishes. ``options`` is an ``emoplay.CalibrationOptions`` (then ``seconds`` is ignored).
        """
        self._calibration_target().calibrate(seconds, options)

    def recalibrate(self, seconds: float = 3.0, options: Any = None) -> None:
        """Forget the current baseline now, then calibrate again."""
        self._calibration_target().recalibrate(seconds, options)

    def reset_calibration(self) -> None:
        """Back to uncalibrated probabilities; a running calibration stops without an event."""
        self._calibration_target().reset_calibration()

    @property
    def calibrated(self) -> bool:
        return self._pipeline is not None and self._pipeline.calibration.baseline is not None

    def export_calibration(self) -> bytes | None:
        """The player's baseline as a small opaque profile (bytes, no pixels) to store; None if not calibrated."""
        self._check_open()
        return None if self._pipeline is None else self._pipeline.export_calibration()

    def import_calibration(self, profile: bytes) -> None:
        """Use a stored profile instead of calibrating; CalibrationError if damaged or made with another model."""
        self._calibration_target().import_calibration(profile)

    def _calibration_target(self) -> EmotionPipeline:
        """The pipeline (its calibration state is thread-safe), created here when the sensor has not started."""
        with self._lock:
            self._check_open()
            if self._pipeline is None:
                self._pipeline = EmotionPipeline(self.options.pipeline)
            return self._pipeline

    # -- session log -----------------------------------------------------------------------------------------
    def start_log(self, path: str | Path, key: Any, include_probabilities: bool = False) -> None:
        """Write the events from now on to a new encrypted session log (opt-in; events only, never pixels)."""
        from ._sessionlog import SessionLogWriter

        self._check_open()
        if self._log is not None:
            raise SensorStateError("a session log is already being written; call stop_log() first")
        self._log = SessionLogWriter(path, key, include_probabilities=include_probabilities)

    def stop_log(self) -> None:
        if self._log is not None:
            log, self._log = self._log, None
            log.close()

    @property
    def logging(self) -> bool:
        return self._log is not None
