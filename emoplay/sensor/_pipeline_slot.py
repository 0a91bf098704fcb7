"""The Sensor's pipeline: created on first use (a worker run, or calibration before start) and shared by its runs.

Creating it loads the models (a second or so), which happens under no lock; whoever is second closes the spare
one. Once the sensor is closed (:meth:`PipelineSlot.shut`) no pipeline is created any more; the current one is
closed by the sensor, or by the worker when its run ends after that (a read that was still blocked).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .._errors import SensorClosedError
from ..pipeline._pipeline import EmotionPipeline, PipelineOptions

if TYPE_CHECKING:
    from ._worker import Worker


class PipelineSlot:
    def __init__(self, options: PipelineOptions) -> None:
        self.options = options
        self._pipeline: EmotionPipeline | None = None
        self._lock = threading.Lock()  # creating and closing the pipeline, and the end of each run
        self._shut = False

    @property
    def pipeline(self) -> EmotionPipeline | None:
        """The pipeline if one was created (and not closed yet)."""
        return self._pipeline

    def ensure(self) -> EmotionPipeline:
        with self._lock:
            if self._pipeline is not None:
                return self._pipeline
        created = EmotionPipeline(self.options)  # loads the models (a second or so): under no lock
        with self._lock:
            pipeline = self._pipeline
            if pipeline is None and not self._shut:
                self._pipeline = pipeline = created
                created = None
        if created is not None:  # another thread was quicker, or the sensor closed meanwhile
            created.close()
        if pipeline is None:
            raise SensorClosedError("this Sensor was closed while its models were loading")
        return pipeline

    def close(self) -> None:
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.close()

    def shut(self) -> None:
        """The sensor is closing: no pipeline is created from now on."""
        with self._lock:
            self._shut = True

    def run_finished(self, run: Worker) -> bool:
        """A worker is done with the pipeline; True when the sensor is closed and the worker must close it."""
        with self._lock:
            run.finished = True
            return self._shut

    def idle(self, run: Worker | None) -> bool:
        """True when ``run`` (the newest) is done with the pipeline, so the closing sensor may close it."""
        with self._lock:
            return run is None or run.finished
