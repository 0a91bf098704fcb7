"""The Sensor's worker: one run of its thread (:class:`Worker`), which reads frames, runs the pipeline and
publishes what it found.

A worker owns its thread and its flags; it reaches the rest of the sensor through four narrow parts only: the
frame source (read under :attr:`Worker.source_lock`), the :class:`PipelineSlot`, the :class:`StreamState` (the
event queue, the faces, the primary face and the newest result, under one lock) and the :class:`Heartbeat`.
The host (``emoplay/sensor/_sensor.py``) creates a worker per ``start()``, stops it with :meth:`Worker.cancel`
and may close the source itself with :meth:`Worker.release_source`.

The worker never blocks the host: it takes the life-cycle lock nowhere, and once the host has taken over a run
(``cancelled``) nothing it publishes reaches the queue, except what the frame in flight at that moment changed
for longer than the run: all of its events when the run keeps its tracks (a paused file or memory source), only
a calibration's outcome when it does not (stop).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from .._events import CalibrationFailed, CalibrationFinished, CameraState
from ..pipeline._pipeline import EmotionPipeline
from ._failures import without_frame_locals
from ._heartbeat import Heartbeat
from ._pipeline_slot import PipelineSlot
from ._sources import EndOfStream, FrameSource
from ._stream_state import StreamState

# How long the worker waits for a frame before it re-checks stop requests and the indicator heartbeat.
# A source that honours it lets stop()/pause() find the worker finished within one wait.
READ_TIMEOUT_S = 0.02


# Events whose effect outlives the run that made them (a baseline stays in use after stop()).
_OUTLIVE_THE_RUN = (CalibrationFinished, CalibrationFailed)


class Worker:
    """One start() .. stop() of the sensor: its thread, its stop flag, and who releases the source."""

    def __init__(
        self,
        predecessor: Worker | None,
        *,
        waited: bool,
        fresh: bool,
        source: FrameSource,
        pipelines: PipelineSlot,
        stream: StreamState,
        heartbeat: Heartbeat,
        indicator_timeout_s: float | None,
        on_frame: Callable[[float, Any], None] | None,
    ) -> None:
        self.predecessor = predecessor
        self.waited = waited  # start(wait=True): an opening failure is raised by start(), not queued
        self.fresh = fresh  # a new stream (not a resumed paused file): the pipeline starts from scratch
        self._source = source
        self._pipelines = pipelines
        self._stream = stream
        self._heartbeat = heartbeat
        self._indicator_timeout_s = indicator_timeout_s  # None: capture does not wait for the indicator
        self._on_frame = on_frame
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.ready = threading.Event()  # the source opened, failed to, or the run was stopped
        self.cancelled = False  # the run is over (host took over, or end of stream/failure): its events are dropped
        self.release = True  # the run's end closes the source (False: a paused file keeps its place)
        self.forget_faces = True  # the run's end resets the tracks (False: a paused file keeps them)
        self.source_lock = threading.Lock()  # held by whoever reads, opens or closes the source
        self.source_open = False
        self.finished = False  # the worker is done with the pipeline (set by PipelineSlot.run_finished)
        self.error: BaseException | None = None
        self.open_error: BaseException | None = None  # the failure, when it came before the source was open

    # -- the host's side -------------------------------------------------------------------------------------
    def start(self) -> None:
        self.thread = threading.Thread(target=self._work, name="emoplay-sensor", daemon=True)
        self.thread.start()

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def ask_to_stop(self) -> None:
        """Ask the thread to finish (no waiting, no lock: also used at interpreter exit)."""
        self.stop.set()
        self._heartbeat.wake()

    def cancel(self, release: bool, forget_faces: bool) -> None:
        """The host takes over: from here on the worker's events are dropped, and it stops."""
        self.release = self.release and release
        self.forget_faces = forget_faces
        self.ask_to_stop()
        with self._stream.lock:
            self.cancelled = True
        self.ready.set()

    def join(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds for the thread (at once when called from the thread itself)."""
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)

    def release_source(self, wait_s: float) -> None:
        """Close the source now if nobody is reading it within ``wait_s``; else the worker closes it as soon as
        its read returns."""
        self.release = True
        if self.source_lock.acquire(timeout=wait_s):
            try:  # nobody is reading: release the source here, now
                if self.source_open:
                    self.source_open = False
                    self._source.close()
            finally:
                self.source_lock.release()

    # -- the worker's thread ---------------------------------------------------------------------------------
    def _publish(self, events=(), state: CameraState | None = None, reason: str = "",
                 failure: BaseException | None = None) -> bool:
        """Queue the run's events: nothing once the run is over (False then)."""
        with self._stream.lock:
            if self.cancelled:
                return False
            self._stream.publish(events, state, reason, failure,
                                 report_failure=not (self.waited and not self.ready.is_set()))
            if state in (CameraState.OFF, CameraState.ERROR):
                self.cancelled = True  # the run ended by itself (end of stream, failure): nothing more from it
            return True

    def _open_source(self) -> bool:
        with self.source_lock:
            if self.stop.is_set():
                return False
            self._source.open()
            self.source_open = True
            return True

    def _close_source(self) -> None:
        with self.source_lock:
            if self.source_open:
                self.source_open = False
                self._source.close()

    def _work(self) -> None:
        if self.predecessor is not None and self.predecessor.thread is not None:
            self.predecessor.thread.join()  # the previous run releases the source (and the pipeline) first
        self.predecessor = None  # no chain of every run ever made
        pipeline = None
        ended = False  # the stream ended or failed: faces and source are done with
        try:
            if self.stop.is_set():
                return  # stopped before it began: no model load (native work) after a stop request
            pipeline = self._pipelines.ensure()
            if self.fresh:
                if pipeline.tracker.tracks:
                    pipeline.end_stream(0.0)  # a paused file was stopped: its tracks do not carry over
                pipeline.new_stream()  # and its time base neither
            if not self._open_source():
                return
            self._publish(state=CameraState.CAPTURING, reason="capturing")
            self.ready.set()
            while not self.stop.is_set():
                if self._indicator_timeout_s is not None and self._heartbeat.missed(self._indicator_timeout_s):
                    if not self._wait_for_indicator(pipeline):
                        return
                with self.source_lock:
                    if self.stop.is_set() or not self.source_open:
                        break
                    frame = self._source.read(READ_TIMEOUT_S)
                if frame is None:
                    continue
                if self.stop.is_set():
                    break  # a frame read after stop() is not processed
                result = pipeline.process(frame.pixels, frame.timestamp, frame.color_order)
                timestamp = frame.timestamp
                del frame  # pixels are not kept past the pipeline step
                with self._stream.lock:
                    if self.cancelled and self.forget_faces:
                        # Stopped while this frame was in flight: its faces go with the run (the host reported
                        # them lost), but a calibration it ended keeps its baseline, so the host hears of it.
                        self._stream.queue(tuple(e for e in result.events if isinstance(e, _OUTLIVE_THE_RUN)))
                        break
                    # A paused file or memory source keeps its tracks: a frame in flight when the host paused
                    # counts, or the host would never hear of what it changed (a face found, an emotion).
                    self._stream.frame_processed(timestamp, result, pipeline)
                    if self.cancelled:
                        break
                if self._on_frame is not None:
                    self._on_frame(timestamp, result)
        except EndOfStream:
            ended = True
            events = pipeline.end_stream(self._stream.now())
            self._close_source()
            self._publish(events, CameraState.OFF, "end of stream")
        except BaseException as e:  # noqa: BLE001 - every worker failure must reach the host
            ended = True
            frame = None  # the failed step's pixels are not kept by the error the host gets
            self.error = without_frame_locals(e)
            if not self.ready.is_set():
                self.open_error = self.error  # start(wait=True) raises it; a later failure is SensorFailed's alone
            self._close_source()
            self._publish(state=CameraState.ERROR, reason=f"{type(e).__name__}: {e}", failure=e)
        finally:
            self._end_run(pipeline, ended)

    def _end_run(self, pipeline: EmotionPipeline | None, ended: bool) -> None:
        """The worker's last act: release what the host left to it, forget faces, free crops."""
        if self.release or ended:
            self._close_source()
        if pipeline is not None:
            try:
                if ended or self.forget_faces:
                    pipeline.end_stream(0.0)  # its events were sent (or replaced by the host's), state reset
            except Exception:  # noqa: BLE001 - a broken pipeline is reset by the next start, or closed
                pass
        self.ready.set()
        if self._pipelines.run_finished(self):
            self._pipelines.close()

    def _wait_for_indicator(self, pipeline: EmotionPipeline) -> bool:
        """Pause capture (camera released) until the indicator is drawn again; False if stopping."""
        self._close_source()
        with self._stream.lock:
            if self.cancelled:
                return False
            events = pipeline.end_stream(self._stream.now())
            self._publish(events, CameraState.PAUSED,
                          f"camera indicator not drawn for {self._indicator_timeout_s:g} s")
        if not self._heartbeat.wait_for_beat(self._indicator_timeout_s, self.stop):
            return False
        self._publish(state=CameraState.STARTING, reason="camera indicator drawn again")
        if not self._open_source():
            return False
        self._publish(state=CameraState.CAPTURING, reason="capturing")
        return True
