"""What the host and the worker share about the stream: one lock, and under it the camera state, the event
queue, the faces in view, the primary face and its emotion, each face's latest reading (``FaceSignal``), the
stream's time and the newest frame's result.

Every change here is one consistent step: the events that say what changed are queued under the same lock as
the change, so ``poll()`` and ``primary_emotion()`` never disagree for long, and a host call that takes over
from the worker (``stop()``, ``pause()``) cannot interleave with a frame's events.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from .._clock import Clock
from .._events import (CameraState, CameraStateChanged, FaceFound, FaceLost, FaceSignal, PrimaryFaceChanged,
                       SensorFailed)
from ._event_queue import EventQueue
from ._signals import FaceSignals


class StreamState:
    def __init__(self, max_queued_events: int, clock: Clock, timebase: str, signal_hz: float) -> None:
        self.lock = threading.RLock()  # state, queue, faces in view and primary: one consistent step
        self.events = EventQueue(max_queued_events)
        self.camera_state = CameraState.OFF
        self._clock = clock
        self._timebase = timebase  # "stream": files and folders start at 0.0; "clock": cameras and submitted frames
        self.faces: set[int] = set()  # FaceFound and not yet FaceLost
        self.primary_id: int | None = None
        self.primary: tuple[str, float] | None = None  # the primary face's emotion as of the newest frame
        self.signals = FaceSignals(signal_hz)  # each face's reading as of the newest frame
        self.stream_time: float | None = None  # the newest frame's timestamp in this stream
        self.frames_processed = 0
        self.last_result: Any = None

    def now(self) -> float:
        """Stream time for an event no frame caused: the newest frame's, or the stream's start."""
        if self.stream_time is not None:
            return self.stream_time
        return 0.0 if self._timebase == "stream" else self._clock()

    def new_stream(self) -> None:
        """The next events start on a new stream's time base."""
        with self.lock:
            self.stream_time = None

    def set_state(self, state: CameraState, reason: str) -> None:
        with self.lock:
            previous, self.camera_state = self.camera_state, state
            if previous is not state:
                self.events.extend((CameraStateChanged(previous, state, reason, self.now()),))

    def queue(self, events: Iterable) -> None:
        """Queue events, keeping the faces in view and the primary face in step with them."""
        with self.lock:
            events = tuple(events)
            for event in events:
                if isinstance(event, FaceFound):
                    self.faces.add(event.track_id)
                elif isinstance(event, FaceLost):
                    self.faces.discard(event.track_id)
                    self.signals.forget(event.track_id)
                elif isinstance(event, PrimaryFaceChanged):
                    self.primary_id = event.current
                    if event.current is None:
                        self.primary = None
            self.events.extend(events)

    def lose_faces(self) -> None:
        """Every face in view is lost now (stop, pause of a camera, failure)."""
        with self.lock:
            t = self.now()
            lost = [FaceLost(track_id, t) for track_id in sorted(self.faces)]
            if self.primary_id is not None:
                lost.append(PrimaryFaceChanged(self.primary_id, None, t))
            self.queue(lost)
            self.faces.clear()
            self.signals.clear()
            self.primary_id, self.primary = None, None

    def take_over(self, state: CameraState, reason: str, lose_faces: bool, events: Iterable = ()) -> None:
        """The host stopped or paused the stream: faces lost (if ``lose_faces``), ``events`` queued, state set."""
        with self.lock:
            if lose_faces:
                self.lose_faces()
            self.queue(events)
            self.set_state(state, reason)
            if state is CameraState.OFF:
                self.stream_time = None  # the next start() is a new stream

    def publish(self, events: Iterable = (), state: CameraState | None = None, reason: str = "",
                failure: BaseException | None = None, report_failure: bool = True) -> None:
        """The worker's events, and its new camera state; a failure loses the faces and (if ``report_failure``)
        queues ``SensorFailed``."""
        with self.lock:
            self.queue(events)
            if failure is not None:
                self.lose_faces()
            if state is not None:
                self.set_state(state, reason)
            if failure is not None and report_failure:
                message = f"{type(failure).__name__}: {failure}"
                self.events.extend((SensorFailed(message, self.now(), failure),))

    def frame_processed(self, timestamp: float, result: Any, pipeline: Any) -> None:
        """A frame's result from ``pipeline``: its events queued (and the ``FaceSignal`` events due), the
        stream's time, the faces' readings and the primary face's emotion moved on."""
        with self.lock:
            self.stream_time = timestamp
            self.frames_processed += 1
            self.last_result = result
            self.queue(result.events)
            self.queue(self.signals.update(pipeline.debouncer, result.track_ids, self.faces, timestamp))
            self.primary = pipeline.emotion_of(self.primary_id)

    def primary_emotion(self) -> tuple[str, float] | None:
        with self.lock:
            if self.primary_id is None:
                return None
            return self.primary or ("unknown", 0.0)

    def latest(self, track_id: int | None) -> FaceSignal | None:
        """A face's reading as of the newest frame; ``track_id`` None: the primary face's."""
        with self.lock:
            return self.signals.latest(self.primary_id if track_id is None else track_id)

    def forget_result(self) -> None:
        """The last frame's boxes and probabilities go (the sensor closed)."""
        with self.lock:
            self.last_result = None
