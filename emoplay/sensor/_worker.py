"""The Sensor's worker thread: one run of it (:class:`Run`), and the loop that reads frames, runs the
pipeline and publishes what it found (:class:`SensorWorker`, which :class:`emoplay.Sensor` is built on).

The host side (``emoplay/sensor/_sensor.py``) starts and stops runs and drains the events; everything here runs
on the worker thread, except :meth:`SensorWorker._ensure_pipeline`, which a host call may also use to load the
models early (calibration before start). The worker never blocks the host: it takes the life-cycle lock
nowhere, and once the host has taken over a run (``run.cancelled``) nothing it publishes reaches the queue,
except what the frame in flight at that moment changed for longer than the run: all of its events when the
run keeps its tracks (a paused file or memory source), only a calibration's outcome when it does not (stop).
"""

from __future__ import annotations

import threading

from .._errors import SensorClosedError
from .._events import CalibrationFailed, CalibrationFinished, CameraState
from ..pipeline._pipeline import EmotionPipeline
from ._failures import without_frame_locals
from ._sources import EndOfStream

# How long the worker waits for a frame before it re-checks stop requests and the indicator heartbeat.
# A source that honours it lets stop()/pause() find the worker finished within one wait.
READ_TIMEOUT_S = 0.02


# Events whose effect outlives the run that made them (a baseline stays in use after stop()).
_OUTLIVE_THE_RUN = (CalibrationFinished, CalibrationFailed)


class Run:
    """One start() .. stop() of the worker: its thread, its stop flag, and who releases the source."""

    def __init__(self, predecessor: "Run | None", waited: bool) -> None:
        self.predecessor = predecessor
        self.waited = waited  # start(wait=True): an opening failure is raised by start(), not queued
        self.thread: threading.Thread | None = None
        self.stop = threading.Event()
        self.ready = threading.Event()  # the source opened, failed to, or the run was stopped
        self.cancelled = False  # the host took over (stop/pause): the worker's events are dropped (but see _work)
        self.release = True  # the run's end closes the source (False: a paused file keeps its place)
        self.forget_faces = True  # the run's end resets the tracks (False: a paused file keeps them)
        self.source_lock = threading.Lock()  # held by whoever reads, opens or closes the source
        self.source_open = False
        self.fresh = True  # a new stream (not a resumed paused file): the pipeline starts from scratch
        self.finished = False  # the worker is done with the pipeline (under the pipeline lock)
        self.error: BaseException | None = None
        self.open_error: BaseException | None = None  # the failure, when it came before the source was open

    def alive(self) -> bool:
        return self.thread is not None and self.thread.is_alive()


class SensorWorker:
    """The worker half of :class:`emoplay.Sensor`: the methods its worker thread runs.

    They use the Sensor's state: ``options``, ``source``, ``clock``, the pipeline and its lock, the emit lock,
    the heartbeat, and ``_publish``/``_queue``/``_now`` to hand events to the host.
    """

    def _ensure_pipeline(self) -> EmotionPipeline:
        with self._pipeline_lock:
            if self._pipeline is not None:
                return self._pipeline
        created = EmotionPipeline(self.options.pipeline)  # loads the models (a second or so): under no lock
        with self._pipeline_lock:
            pipeline = self._pipeline
            if pipeline is None and not self._closed:
                self._pipeline = pipeline = created
                created = None
        if created is not None:  # another thread was quicker, or the sensor closed meanwhile
            created.close()
        if pipeline is None:
            raise SensorClosedError("this Sensor was closed while its models were loading")
        return pipeline

    def _close_pipeline(self) -> None:
        with self._pipeline_lock:
            pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.close()

    def _open_source(self, run: Run) -> bool:
        with run.source_lock:
            if run.stop.is_set():
                return False
            self.source.open()
            run.source_open = True
            return True

    def _close_source(self, run: Run) -> None:
        with run.source_lock:
            if run.source_open:
                run.source_open = False
                self.source.close()

    def _work(self, run: Run) -> None:
        if run.predecessor is not None and run.predecessor.thread is not None:
            run.predecessor.thread.join()  # the previous run releases the source (and the pipeline) first
        run.predecessor = None  # no chain of every run ever made
        pipeline = None
        ended = False  # the stream ended or failed: faces and source are done with
        try:
            if run.stop.is_set():
                return  # stopped before it began: no model load (native work) after a stop request
            pipeline = self._ensure_pipeline()
            if run.fresh:
                if pipeline.tracker.tracks:
                    pipeline.end_stream(0.0)  # a paused file was stopped: its tracks do not carry over
                pipeline.new_stream()  # and its time base neither
            if not self._open_source(run):
                return
            self._publish(run, state=CameraState.CAPTURING, reason="capturing")
            run.ready.set()
            while not run.stop.is_set():
                if self._needs_indicator and self.clock() - self._last_heartbeat > self.options.indicator_timeout_s:
                    if not self._wait_for_indicator(run, pipeline):
                        return
                with run.source_lock:
                    if run.stop.is_set() or not run.source_open:
                        break
                    frame = self.source.read(READ_TIMEOUT_S)
                if frame is None:
                    continue
                if run.stop.is_set():
                    break  # a frame read after stop() is not processed
                result = pipeline.process(frame.pixels, frame.timestamp, frame.color_order)
                timestamp = frame.timestamp
                del frame  # pixels are not kept past the pipeline step
                with self._emit_lock:
                    if run.cancelled and run.forget_faces:
                        # Stopped while this frame was in flight: its faces go with the run (the host reported
                        # them lost), but a calibration it ended keeps its baseline, so the host hears of it.
                        self._queue(tuple(e for e in result.events if isinstance(e, _OUTLIVE_THE_RUN)))
                        break
                    # A paused file or memory source keeps its tracks: a frame in flight when the host paused
                    # counts, or the host would never hear of what it changed (a face found, an emotion).
                    self._stream_time = timestamp
                    self.frames_processed += 1
                    self.last_result = result
                    self._queue(result.events)
                    self._queue(self._signals.update(pipeline.debouncer, result.track_ids, self._faces, timestamp))
                    self._primary = pipeline.emotion_of(self._primary_id)
                    if run.cancelled:
                        break
                if self.options.on_frame is not None:
                    self.options.on_frame(timestamp, result)
        except EndOfStream:
            ended = True
            events = pipeline.end_stream(self._now())
            self._close_source(run)
            self._publish(run, events, CameraState.OFF, "end of stream")
        except BaseException as e:  # noqa: BLE001 - every worker failure must reach the host
            ended = True
            frame = None  # the failed step's pixels are not kept by the error the host gets
            run.error = without_frame_locals(e)
            if not run.ready.is_set():
                run.open_error = run.error  # start(wait=True) raises it; a later failure is SensorFailed's alone
            self._close_source(run)
            self._publish(run, state=CameraState.ERROR, reason=f"{type(e).__name__}: {e}", failure=e)
        finally:
            self._end_run(run, pipeline, ended)

    def _end_run(self, run: Run, pipeline: EmotionPipeline | None, ended: bool) -> None:
        """The worker's last act: release what the host left to it, forget faces, free crops."""
        if run.release or ended:
            self._close_source(run)
        if pipeline is not None:
            try:
                if ended or run.forget_faces:
                    pipeline.end_stream(0.0)  # its events were sent (or replaced by the host's), state reset
            except Exception:  # noqa: BLE001 - a broken pipeline is reset by the next start, or closed
                pass
        run.ready.set()
        with self._pipeline_lock:
            run.finished = True
            close_now = self._closed
        if close_now:
            self._close_pipeline()

    def _wait_for_indicator(self, run: Run, pipeline: EmotionPipeline) -> bool:
        """Pause capture (camera released) until the indicator is drawn again; False if stopping."""
        self._close_source(run)
        with self._emit_lock:
            if run.cancelled:
                return False
            events = pipeline.end_stream(self._now())
            self._publish(run, events, CameraState.PAUSED,
                          f"camera indicator not drawn for {self.options.indicator_timeout_s:g} s")
        while not run.stop.is_set():
            self._heartbeat_seen.clear()
            if self.clock() - self._last_heartbeat <= self.options.indicator_timeout_s:
                break
            self._heartbeat_seen.wait(0.1)
        if run.stop.is_set():
            return False
        self._publish(run, state=CameraState.STARTING, reason="camera indicator drawn again")
        if not self._open_source(run):
            return False
        self._publish(run, state=CameraState.CAPTURING, reason="capturing")
        return True
