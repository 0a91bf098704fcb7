"""One frame through every stage: pixels → faces → emotions → tracks → debounced events.

The pipeline is synchronous and owns no thread, so it can be driven frame by
frame from tests, benchmarks, offline tools or a host's own loop; the
:class:`~emoplay.Sensor` runs it on its worker thread. Frame pixels are only
borrowed for the duration of :meth:`EmotionPipeline.process` and never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._classify import ClassifierOptions, EmotionClassifier
from ._debounce import DebounceOptions, Debouncer
from ._detect import DetectorOptions, Detections, FaceDetector
from ._events import EmotionChanged, FaceFound, FaceLost
from ._frames import to_rgb_and_gray
from ._track import FaceTracker, TrackerOptions


@dataclass(frozen=True)
class PipelineOptions:
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    debounce: DebounceOptions = field(default_factory=DebounceOptions)


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced: events, and per detection its box, track id and probabilities."""

    events: tuple[EmotionChanged | FaceFound | FaceLost, ...] = ()
    detections: Detections = field(default_factory=Detections)
    track_ids: tuple[int, ...] = ()
    probabilities: np.ndarray = field(default_factory=lambda: np.zeros((0, 7), np.float32))
    primary_id: int | None = None


class EmotionPipeline:
    def __init__(self, options: PipelineOptions = PipelineOptions()) -> None:
        self.options = options
        self.detector = FaceDetector(options.detector)
        try:
            self.classifier = EmotionClassifier(options.classifier)
        except BaseException:
            self.detector.close()
            raise
        self.tracker = FaceTracker(options.tracker)
        self.debouncer = Debouncer(self.classifier.class_names, options.debounce)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def process(self, pixels: np.ndarray, timestamp: float, color_order: str = "bgr") -> FrameResult:
        rgb, gray = to_rgb_and_gray(pixels, color_order)
        detections = self.detector.detect(rgb, timestamp)
        probs = self.classifier.classify(gray, detections.boxes)
        update = self.tracker.update(detections.boxes, timestamp, detections.scores)
        events: list = list(update.events)
        for track_id in update.lost_ids:
            self.debouncer.forget(track_id)
        confirmed = {t.track_id for t in self.tracker.tracks if t.confirmed}
        for track_id, p in zip(update.matches, probs):
            if track_id in confirmed:
                change = self.debouncer.update(track_id, p, timestamp)
                if change is not None:
                    events.append(change)
        return FrameResult(tuple(events), detections, update.matches, probs, self.tracker.primary_id)

    def end_stream(self, timestamp: float) -> tuple[FaceLost, ...]:
        """The stream ended: every face is lost, state is reset for the next stream."""
        lost = tuple(self.tracker.close_all(timestamp))
        self.debouncer.reset()
        self.detector.reset()
        return lost

    def close(self) -> None:
        self.detector.close()
        self.classifier.close()

    def __enter__(self) -> "EmotionPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
