"""The Sensor: a frame source and the pipeline on a worker thread (_worker.py), events to the host's thread.

Life cycle and camera states::

    OFF --start()--> STARTING --> CAPTURING --pause()/indicator not drawn--> PAUSED
     ^                                |  ^                                     |
     +--stop()/close()/withdraw_consent()/end of video--+  +----resume()/indicator drawn again---+
    any state --worker or source failure--> ERROR (a SensorFailed event, and WorkerError from poll())

The worker only queues events; the host drains them with :meth:`Sensor.poll`
from its own loop, where subscribed callbacks run and an attached event sink
(such as the encrypted session log) is written. A camera opens only after
:meth:`grant_consent`, and (by default) capture runs only while the host keeps
calling :meth:`heartbeat` — which the Pygame ``CameraIndicator`` does each
time it is drawn — so the camera cannot run without a visible indicator.

Guarantees (each one is a test in ``tests/sensor/``):

* **Camera off within 100 ms.** ``stop()``, ``pause()`` and ``withdraw_consent()``
  return within 100 ms even while the source's ``read()`` blocks (an unplugged
  camera): they wait at most ``_JOIN_WAIT_S`` for the worker, and a source the
  worker is still reading from is released by the worker (a camera: by its grab
  thread) the moment that read returns; :meth:`wait_released` waits for it. A
  frame that arrives after the request is dropped unprocessed. The camera state,
  the ``FaceLost`` events and ``primary_emotion()`` change before they return.
* **Start off the game thread.** Models load and the source opens on the worker
  thread, never under the life-cycle lock, so ``stop()`` is never stuck behind
  them. ``start()`` waits for the source to open (and raises its error) unless
  called with ``wait=False``; then failures arrive as ``SensorFailed``.
* **Crops live for one step.** Frame pixels and face crops exist only while one
  frame is processed: the classifier's input batch and each step's crops are
  zeroed right after use, the pipeline keeps digests (not crops), and a frame
  submitted while the sensor is not capturing is not kept.
* **Errors end the stream cleanly.** A source that raises (a camera driver, a
  video corrupt in the middle, an undecodable image) or any worker error sends
  ``FaceLost`` for every face in view, clears the primary emotion, switches to
  ERROR, releases the source, queues ``SensorFailed``, and makes the next
  ``poll()`` raise ``WorkerError`` after delivering the batch.
* **No event is lost silently.** ``poll()`` delivers every queued event to every
  callback and to the sink even when some of them raise (the first error is then
  raised, with the batch on ``error.events``). A sink whose write fails is
  detached (its error is raised once) and the events keep flowing. Events dropped
  because the host did not poll for ``max_queued_events`` are counted in an
  ``EventsDropped`` event; ``detach_sink()``/``stop_log()`` and ``close()`` write
  the queued events to the sink before closing it.
* **One time base per stream.** Every event carries stream time: a frame's own
  timestamp for the events it caused, and the newest frame's timestamp for the
  others (camera state, faces lost on stop, failures); before the first frame,
  0.0 for files and folders and the sensor clock for cameras and submitted frames.
* **Clean exit.** A script may end right after ``stop()`` (or without it): an exit hook
  (``emoplay.sensor._exit``) stops the worker and a camera's grab thread and waits for them, at
  most ``EXIT_WAIT_S``, before the interpreter finalises; a daemon thread still inside
  ONNX Runtime or OpenCV then would abort the process ("terminate called ..."). ``close()``
  waits up to ``_CLOSE_WAIT_S`` for the worker; ``stop()``/``pause()`` never wait for it.
* **Current state.** ``primary_emotion()`` is the primary face's debounced
  emotion as of the newest processed frame (no ``poll()`` needed), None when no
  face is in view and after stop or a failure; ``PrimaryFaceChanged`` says when
  the primary face changes. ``latest(track_id)`` is a face's continuous reading (smoothed probabilities,
  valence/arousal, debounced emotion: a ``FaceSignal``) as of the newest processed frame; with
  ``signal_hz`` the same readings also arrive as ``FaceSignal`` events at that rate of stream time.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .._checks import check_number
from .._clock import Clock, monotonic_clock
from ._dispatch import EventDispatcher
from .._errors import ConsentRequiredError, SensorClosedError, SensorStateError, WorkerError
from .._events import CameraState, Event, FaceSignal, SensorFailed
from ._exit import finish_threads_at_exit
from ._log_times import InOrderLog
from ._heartbeat import Heartbeat
from ..pipeline._pipeline import EmotionPipeline, PipelineOptions
from ._pipeline_slot import PipelineSlot
from ._sink import EventSink, check_sink, write_or_detach
from ._sources import FrameSource, MemorySource, source_from_spec
from ._stream_state import StreamState
from ._worker import Worker

# FaceSignal events at most this often per face and second (a camera's frame rate, or more, is pointless).
MAX_SIGNAL_HZ = 60.0

# How long stop()/pause()/withdraw_consent() wait for the worker before leaving the source's release to it:
# one read timeout (_worker.READ_TIMEOUT_S) and a little, so the 100 ms camera-off promise holds with room to spare.
_JOIN_WAIT_S = 0.03
# Then how long they wait for the worker to leave read() before the worker is left to release the source.
_SOURCE_WAIT_S = 0.01
# How long close() waits for the worker to finish its frame (and a blocked read to return) before it leaves the
# pipeline's and the source's release to the worker; close() may wait, stop()/pause() may not.
_CLOSE_WAIT_S = 2.0


@dataclass(frozen=True)
class SensorOptions:
    source: Any = "camera"  # "camera", an index, "/dev/videoN", a video file, an image folder, or "memory"
    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    # Send each face's FaceSignal (smoothed probabilities, valence/arousal, debounced emotion) this many times a
    # second of stream time; 0: none (Sensor.latest() gives the same reading on demand either way).
    signal_hz: float = 0.0
    # A stability preset by name ("responsive", "balanced", "dialogue"): sets pipeline.stability. Explicit
    # pipeline.debounce options still override it; None leaves the pipeline's choice (default "balanced").
    stability: str | None = None
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
        check_number("SensorOptions", "indicator_timeout_s", self.indicator_timeout_s, low=0, low_open=True)
        check_number("SensorOptions", "max_queued_events", self.max_queued_events, low=1, integer=True)
        check_number("SensorOptions", "width", self.width, low=1, integer=True, optional=True)
        check_number("SensorOptions", "height", self.height, low=1, integer=True, optional=True)
        check_number("SensorOptions", "fps", self.fps, low=0, low_open=True, optional=True)
        check_number("SensorOptions", "signal_hz", self.signal_hz, low=0, high=MAX_SIGNAL_HZ)
        if self.stability is not None:
            if self.pipeline.stability not in (None, self.stability):
                raise ValueError(f"SensorOptions.stability={self.stability!r} contradicts "
                                 f"pipeline.stability={self.pipeline.stability!r}; set one of them")
            object.__setattr__(self, "pipeline", replace(self.pipeline, stability=self.stability))


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
        self._pipelines = PipelineSlot(self.options.pipeline)
        self._lock = threading.RLock()  # life-cycle calls on the host side; never held while waiting on the worker
        self._stream = StreamState(self.options.max_queued_events, self.clock,
                                   getattr(self.source, "timebase", "clock"), self.options.signal_hz)
        self._events = self._stream.events
        self._dispatcher = EventDispatcher()
        self._last_run: Worker | None = None  # the newest run, current or ending
        self._heartbeat = Heartbeat(self.clock)
        self._consent = False
        self._closed = False
        self._sink: EventSink | None = None

    # -- consent and indicator -------------------------------------------------------------------------------
    @property
    def has_consent(self) -> bool:
        return self._consent

    def grant_consent(self) -> None:
        """Record that the player agreed (after the host's own consent screen). Required before a camera opens."""
        self._consent = True

    def withdraw_consent(self) -> None:
        """The player said no: stop capturing at once (within 100 ms) and release the camera."""
        with self._lock:
            self._consent = False
            if self._run is not None or self._state not in (CameraState.OFF, CameraState.ERROR):
                self._halt(CameraState.OFF, "consent withdrawn")

    def heartbeat(self) -> None:
        """The host drew the camera indicator this frame (the Pygame CameraIndicator calls this)."""
        self._heartbeat.beat()

    # -- life cycle ------------------------------------------------------------------------------------------
    @property
    def camera_state(self) -> CameraState:
        return self._stream.camera_state

    @property
    def _state(self) -> CameraState:
        return self._stream.camera_state

    @property
    def _run(self) -> Worker | None:
        """The current run: started, and neither stopped by the host nor ended by itself."""
        run = self._last_run
        return None if run is None or run.cancelled else run

    @property
    def frames_processed(self) -> int:
        """Frames the pipeline has processed since the sensor was created."""
        return self._stream.frames_processed

    @property
    def last_result(self) -> Any:
        """The newest frame's ``FrameResult`` (boxes and probabilities, no pixels); None before the first frame
        and after ``close()``."""
        return self._stream.last_result

    @property
    def running(self) -> bool:
        """True between start() and stop()/pause()/the end of the stream/a failure."""
        run = self._run
        return run is not None and run.alive()

    @property
    def events_dropped(self) -> int:
        """Events dropped so far because the host polled too rarely (each drop is also an EventsDropped)."""
        return self._events.dropped_total

    def start(self, wait: bool = True) -> None:
        """Load the models, open the source and capture, all on the worker thread.

        ``wait=True`` returns once the source is open and raises its error (e.g. no camera) here;
        ``wait=False`` returns at once (for a game's frame loop) and reports a failure as ``SensorFailed``.
        Either way ``stop()`` from another thread is never blocked by it.
        """
        with self._lock:
            self._check_open()
            if self._run is not None:
                return
            if self._needs_consent and not self._consent:
                raise ConsentRequiredError(
                    "the camera may not open before the player consents: show your consent screen, then call "
                    "sensor.grant_consent()")
            run = Worker(
                self._last_run, waited=wait, fresh=self._state is not CameraState.PAUSED, source=self.source,
                pipelines=self._pipelines, stream=self._stream, heartbeat=self._heartbeat,
                indicator_timeout_s=self.options.indicator_timeout_s if self._needs_indicator else None,
                on_frame=self.options.on_frame)
            self._heartbeat.restart()
            with self._stream.lock:
                if run.fresh:
                    self._stream.new_stream()  # a new stream: its events start on its own time base
                self._last_run = run
                self._stream.set_state(CameraState.STARTING, "starting")
            run.start()
            finish_threads_at_exit(self)  # the worker runs native code: it must end before the interpreter does
        if wait:
            run.ready.wait()
            if run.open_error is not None:
                raise run.open_error

    def pause(self) -> None:
        """Stop capturing (within 100 ms) and release a camera; resume() continues."""
        with self._lock:
            self._check_open()
            if self._run is not None or self._state in (CameraState.CAPTURING, CameraState.STARTING):
                self._halt(CameraState.PAUSED, "paused by host", release=self.source.is_live)

    def resume(self, wait: bool = True) -> None:
        with self._lock:
            self._check_open()
            if self._state is not CameraState.PAUSED:
                raise SensorStateError(f"resume() needs a paused sensor; it is {self._state.value}: use start()")
        self.start(wait)

    def stop(self) -> None:
        """Stop capturing (within 100 ms) and release the source. Faces in view are reported lost."""
        with self._lock:
            if self._run is not None or self._state is not CameraState.OFF:
                self._halt(CameraState.OFF, "stopped by host")

    def close(self) -> None:
        """Stop, write the queued events to an attached sink (a session log) and close it, release everything.

        Safe to call more than once. Unlike ``stop()`` it waits, up to ``_CLOSE_WAIT_S``, for the worker to
        finish its frame and release the source; the pipeline is closed here, or by the worker when it ends
        (a read that was still blocked after that).
        """
        with self._lock:
            if self._closed:
                return
            self.stop()
            self._closed = True
            self._pipelines.shut()
        self.wait_released(_CLOSE_WAIT_S)  # outside the lock: another thread's stop() is never held up by it
        with self._lock:
            if self._pipelines.idle(self._last_run):
                self._pipelines.close()
            self.detach_sink()
            self._stream.forget_result()  # the last frame's boxes and probabilities go with the sensor

    def __enter__(self) -> "Sensor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_released(self, timeout: float | None = None) -> bool:
        """Wait until no thread of this sensor holds the source (a blocked read has returned and the source
        was closed, a camera's device released); False if ``timeout`` seconds passed first, or if called
        from the worker thread itself (an ``on_frame`` callback)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        run = self._last_run
        if run is not None and run.thread is not None:
            if run.thread is threading.current_thread():
                return False
            run.thread.join(timeout)
            if run.thread.is_alive():
                return False
        waiter = getattr(self.source, "wait_released", None)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        return True if waiter is None else bool(waiter(left))

    # -- interpreter exit (emoplay.sensor._exit) ----------------------------------------------------------------------
    def _exit_stop(self) -> None:
        """At exit: ask the worker to finish (no lock: a host thread may hold it; no events: nobody polls)."""
        run = self._last_run
        if run is not None:
            run.ask_to_stop()

    def _exit_join(self, timeout: float) -> bool:
        return self.wait_released(timeout)

    def _check_open(self) -> None:
        if self._closed:
            raise SensorClosedError("this Sensor was closed; create a new one")

    def _halt(self, state: CameraState, reason: str, release: bool = True) -> None:
        """Take over from the worker: faces lost, state set, source released now or by the worker; bounded."""
        calibration_failed = self._end_calibration() if release or state is CameraState.OFF else []
        run = self._run
        if run is not None:
            run.cancel(release, forget_faces=release or state is CameraState.OFF)  # its events are dropped now
            run.join(_JOIN_WAIT_S)
        holder = run or self._last_run  # the run that opened the source (a paused file's keeps it open)
        if release and holder is not None:
            holder.release_source(_SOURCE_WAIT_S)  # or, inside read(), the worker closes it when the read returns
        elif isinstance(self.source, MemorySource):
            self.source.close()  # it has no place to keep: submit() refuses frames until the next start()
        self._stream.take_over(state, reason, lose_faces=release or state is CameraState.OFF,
                               events=calibration_failed)

    # -- host side -------------------------------------------------------------------------------------------
    def submit(self, pixels: np.ndarray, timestamp: float | None = None) -> bool:
        """Hand the sensor a frame (source="memory"): hosts that own their camera, and tests.

        Returns False, keeping nothing, while the sensor is not capturing (stopped, paused, closed).
        """
        if not isinstance(self.source, MemorySource):
            raise SensorStateError(f"submit() needs SensorOptions(source='memory'); this sensor reads {self.source.name}")
        return self.source.submit(pixels, timestamp)

    def subscribe(self, name: str, callback: Callable[[Any], Any]) -> None:
        """Run ``callback(event)`` on the host thread, inside poll(), for each event called ``name``."""
        self._dispatcher.subscribe(name, callback)

    def unsubscribe(self, name: str, callback: Callable[[Any], Any]) -> None:
        self._dispatcher.unsubscribe(name, callback)

    def poll(self) -> list[Event]:
        """Drain the events queued since the last call, write them to the sink, run subscribed callbacks.

        Every event reaches every callback and the sink, even when some raise; then the first error is
        raised with the batch on ``error.events``. A sink whose write raises is detached and closed, so its
        error is raised by one poll() only. If the worker failed, its ``SensorFailed`` event is delivered
        and then ``WorkerError`` is raised (the drained events are on ``error.events``).
        """
        drained, logged = self._events.drain()
        failure = None
        errors: list[BaseException] = []
        for i, event in enumerate(drained):
            try:
                if isinstance(event, SensorFailed):
                    failure = event
                if self._sink is not None and i >= logged:
                    sink_errors = write_or_detach(self._sink, event)
                    if sink_errors:  # the sink is closed: the rest of the batch, and later ones, go without it
                        self._sink = None
                        errors += sink_errors
                errors += self._dispatcher.dispatch(event)
            except BaseException:  # KeyboardInterrupt in a callback: the rest waits for the next poll()
                self._events.requeue(drained[i + 1:])
                raise
        if failure is not None:
            error = WorkerError(f"the emoplay worker stopped: {failure.message}")
            error.events = drained
            error.errors = errors
            raise error from failure.error
        if errors:
            first = errors[0]
            for other in errors[1:]:
                first.add_note(f"emoplay poll(): also raised while delivering: {type(other).__name__}: {other}")
            try:
                first.events = drained
            except AttributeError:
                pass
            raise first
        return drained

    def primary_emotion(self) -> tuple[str, float] | None:
        """(emotion, confidence) of the primary face now, ``("unknown", 0.0)`` if unsure, None without a face.

        Current as of the newest processed frame, without waiting for poll(); None after stop, pause of a
        camera, the end of the stream and a failure.
        """
        return self._stream.primary_emotion()

    def latest(self, track_id: int | None = None) -> FaceSignal | None:
        """A face's continuous reading as of the newest processed frame: smoothed probabilities, valence and
        arousal, and the debounced emotion (a ``FaceSignal``). ``track_id`` None: the primary face. None for a
        face not in view (or not yet read). For a steady stream instead, set ``SensorOptions.signal_hz``."""
        return self._stream.latest(track_id)

    @property
    def primary_track_id(self) -> int | None:
        return self._stream.primary_id

    # -- calibration (emoplay/calibration): the player's relaxed face taken out of every frame ---------------------
    def calibrate(self, seconds: float = 3.0, options: Any = None) -> None:
        """Calibrate the primary face over the next ``seconds`` of frames (ask the player to relax first).

        Returns at once; the worker reports ``CalibrationProgress`` and then ``CalibrationFinished`` or
        ``CalibrationFailed`` through poll()/subscribe. A previous baseline stays in use until a new one
        finishes. ``options`` is an ``emoplay.CalibrationOptions`` (then ``seconds`` is ignored). Called
        before start(), it loads the models here (a second or two) and begins with the first frame.
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
        pipeline = self._pipelines.pipeline
        return pipeline is not None and pipeline.calibration.baseline is not None

    def export_calibration(self) -> bytes | None:
        """The player's baseline as a small opaque profile (bytes, no pixels) to store; None if not calibrated."""
        self._check_open()
        pipeline = self._pipelines.pipeline
        return None if pipeline is None else pipeline.export_calibration()

    def import_calibration(self, profile: bytes) -> None:
        """Use a stored profile instead of calibrating; CalibrationError if damaged or made with another model."""
        self._calibration_target().import_calibration(profile)

    def _end_calibration(self) -> list:
        """A calibration in progress fails now (too_short), before the worker stops and its events are dropped."""
        pipeline = self._pipelines.pipeline
        return [] if pipeline is None else pipeline.calibration.end_stream(self._stream.now())

    def _calibration_target(self) -> EmotionPipeline:
        """The pipeline (its calibration state is thread-safe), created here when the sensor has not started."""
        with self._lock:
            self._check_open()
            return self._pipelines.ensure()

    # -- event sink (a session log) --------------------------------------------------------------------------------
    def attach_sink(self, sink: EventSink) -> None:
        """Write the events from now on to ``sink`` (any object with ``write(event)`` and ``close()``), in poll().

        A sink whose ``write`` raises is detached and closed; poll() raises its error once.
        """
        check_sink(sink)
        self._check_open()
        if self._sink is not None:
            raise SensorStateError("an event sink (a session log) is already attached; call detach_sink() first")
        self._sink = sink

    def detach_sink(self) -> None:
        """Write the events still queued to the sink, then close it (they stay queued for poll())."""
        if self._sink is None:
            return
        sink, self._sink = self._sink, None
        try:
            for event in self._events.take_unlogged():
                sink.write(event)
        finally:
            sink.close()

    def start_log(self, path: str | Path, key: Any, include_probabilities: bool = False) -> None:
        """Write the events from now on to a new encrypted session log (opt-in; events only, never pixels).

        The same as ``attach_sink(SessionLogWriter(path, key, include_probabilities=...))``.
        """
        from ..sessionlog import SessionLogWriter  # the log is one sink among others: loaded only when asked for

        self._check_open()
        if self._sink is not None:
            raise SensorStateError("a session log is already being written; call stop_log() first")
        # Its times never go back, even when a video source restarts (_log_times.py).
        self.attach_sink(InOrderLog(SessionLogWriter(path, key, include_probabilities=include_probabilities)))

    def stop_log(self) -> None:
        """Write the events still queued to the log, then close it (the same as :meth:`detach_sink`)."""
        self.detach_sink()

    @property
    def sink_attached(self) -> bool:
        """True while an event sink (a session log) is attached: False after stop_log(), or once its write failed."""
        return self._sink is not None
