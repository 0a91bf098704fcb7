"""One frame through every stage: pixels → faces → emotions → tracks → debounced events.

The pipeline is synchronous and owns no thread, so it can be driven frame by
frame from tests, benchmarks, offline tools or a host's own loop; the
:class:`~emoplay.Sensor` runs it on its worker thread. Frame pixels and face
crops live for one step: they are only borrowed for the duration of
:meth:`EmotionPipeline.process` and never kept (to recognise an unchanged face
the pipeline keeps, per track, a 16-byte digest of the crop last classified and,
with ``classify_every`` > 1, a 12x12 thumbnail of it: 144 bytes, too coarse to
show who the player is; see ``_reuse.py``). Only the face crops are converted to
gray, never the whole frame.

Three options trade work for nothing or almost nothing (``emoplay bench`` measures
them; benchmarks/README.md has the figures):

* ``reuse_unchanged_crops`` (on): a tracked face whose crop is byte-for-byte the
  one last classified keeps its probabilities instead of being
  classified again. Results are unchanged; it saves the model's run on repeated
  frames (a host submitting the same camera frame on several game ticks, a still
  image, a paused video). Crops are compared by a BLAKE2b digest.
* ``detect_every`` (2): run the face detector on every Nth frame only; frames in
  between reuse the last detection's boxes and track ids and are still
  classified and debounced, so every frame still yields emotions. 2 (the
  default) saves about a third of the per-frame CPU: at 30 fps the box lags by
  at most one frame (33 ms), a face is found up to two frames later (it needs
  three detections), and on the test videos the emotion changes come on the same
  frames as with 1. 1 runs the detector on every frame.
* ``classify_every`` (2) and ``reclassify_change`` (3.0): run the emotion model
  on a tracked face at least every Nth frame; on the frames between, the face
  keeps its last probabilities unless its crop changed by more than
  ``reclassify_change`` since the model last saw it (mean absolute difference of
  12x12 thumbnails of the 48x48 crops, in gray levels 0-255: a still face's
  sensor noise and a box that moved by a pixel stay below 3, a new expression
  or a jump goes above), in which case it is classified at once. The model is the largest cost per
  frame; with 2 it runs on about half the frames. Events are still decided on
  every frame, from probabilities at most N-1 frames old (33 ms at 30 fps for
  2). On the shared videos the emotion changes come at the same moments or one
  frame later; on the 15 s talking clip, whose expression hovers between
  neutral, happy and unknown, 20 of its 22 changes come within 0.1 s of
  where they came with 1. 1 classifies every frame (whose crop changed).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ._checks import check_number
from ._classify import ClassifierOptions, EmotionClassifier
from ._debounce import DebounceOptions, Debouncer
from .detection import DetectorOptions, Detections, FaceDetector
from ._events import EmotionChanged, FaceFound, FaceLost, PrimaryFaceChanged
from ._frames import check_frame
from ._reuse import CropReuse
from ._track import FaceTracker, TrackerOptions
from .calibration.calibrator import CalibrationOptions
from .calibration.state import AutoCalibrationOptions, CalibrationState


@dataclass(frozen=True)
class PipelineOptions:
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    debounce: DebounceOptions = field(default_factory=DebounceOptions)
    detect_every: int = 2  # run the detector on every Nth frame; frames between reuse its boxes (see above)
    reuse_unchanged_crops: bool = True  # a face whose crop did not change keeps its probabilities
    classify_every: int = 2  # run the model on a tracked face at least every Nth frame; between, keep its probabilities
    reclassify_change: float = 3.0  # ... unless its crop changed by more (mean abs difference, gray levels; see above)
    auto_calibration: AutoCalibrationOptions | None = None  # per-track running baselines (off; calibration/state.py)

    def __post_init__(self) -> None:
        check_number("PipelineOptions", "detect_every", self.detect_every, low=1, integer=True)
        check_number("PipelineOptions", "classify_every", self.classify_every, low=1, integer=True)
        check_number("PipelineOptions", "reclassify_change", self.reclassify_change, low=0, high=255)


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced: events, and per detection its box, track id and probabilities."""

    events: tuple[EmotionChanged | FaceFound | FaceLost | PrimaryFaceChanged, ...] = ()
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
        # Per-player baselines, applied before smoothing and debouncing (emoplay/calibration).
        self.calibration = CalibrationState(self.class_names, self.classifier.info.version, options.auto_calibration)
        self._held: tuple[Detections, tuple[int, ...]] | None = None  # last detection and its track ids
        self._frames_since_detection = 0
        # Per track: what the model said last and when; decides which crops need the model (_reuse.py).
        self._reuse = CropReuse(len(self.class_names), options.classify_every, options.reclassify_change,
                                options.reuse_unchanged_crops)
        self._primary_id: int | None = None  # the primary face last reported (PrimaryFaceChanged)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def process(self, pixels: np.ndarray, timestamp: float, color_order: str = "bgr") -> FrameResult:
        events: list = []
        # The detector fixes the colour order on its 128x128 input, and only the face crops are converted to gray:
        # no RGB or gray copy of the whole frame.
        pixels = check_frame(pixels, color_order)
        if self._held is None or self._frames_since_detection + 1 >= self.options.detect_every:
            detections = self.detector.detect(pixels, timestamp, color_order)
            update = self.tracker.update(detections.boxes, timestamp, detections.scores)
            events += update.events
            for track_id in update.lost_ids:
                self.debouncer.forget(track_id)
            matches = update.matches
            self._held, self._frames_since_detection = (detections, matches), 0
            events += self._primary_change(timestamp)
        else:
            detections, matches = self._held
            self._frames_since_detection += 1
        probs = self._classify(pixels, color_order, detections.boxes, matches)
        confirmed = {t.track_id for t in self.tracker.tracks if t.confirmed}
        probs, calibration_events = self.calibration.update(timestamp, matches, probs, confirmed,
                                                            self.tracker.primary_id)
        events += calibration_events
        for track_id, p in zip(matches, probs):
            if track_id in confirmed:
                change = self.debouncer.update(track_id, p, timestamp)
                if change is not None:
                    events.append(change)
        return FrameResult(tuple(events), detections, matches, probs, self.tracker.primary_id)

    def _primary_change(self, timestamp: float) -> tuple[PrimaryFaceChanged, ...]:
        previous, current = self._primary_id, self.tracker.primary_id
        if previous == current:
            return ()
        self._primary_id = current
        return (PrimaryFaceChanged(previous, current, timestamp),)

    def emotion_of(self, track_id: int | None) -> tuple[str, float] | None:
        """The debounced (emotion, confidence) of a track now; None for no track or one without emotion yet."""
        return None if track_id is None else self.debouncer.current(track_id)

    def _classify(self, pixels: np.ndarray, color_order: str, boxes: np.ndarray,
                  track_ids: tuple[int, ...]) -> np.ndarray:
        """Probabilities per box; tracks whose probabilities still hold keep them (see the module docstring)."""
        crops = self.classifier.crop_faces(pixels, boxes, color_order)
        try:
            return self._reuse.probabilities(crops, track_ids, lambda c: self.classifier.classify_crops(c))
        finally:
            crops.fill(0)  # crops live for this step only

    # -- calibration: the player's relaxed face taken out of every frame ---------------------------------------
    def calibrate(self, seconds: float = 3.0, options: CalibrationOptions | None = None) -> None:
        """Collect the primary face for ``seconds`` from the next frame on; ``process()`` returns the
        CalibrationProgress events and a CalibrationFinished or CalibrationFailed. The current baseline
        (if any) stays in use until a new one finishes."""
        self.calibration.start(CalibrationOptions(seconds=seconds) if options is None else options)

    def recalibrate(self, seconds: float = 3.0, options: CalibrationOptions | None = None) -> None:
        """Forget the current baseline now, then calibrate again."""
        self.calibration.reset()
        self.calibrate(seconds, options)

    def reset_calibration(self) -> None:
        """Back to uncalibrated probabilities (a running calibration stops without an event)."""
        self.calibration.reset()

    def export_calibration(self) -> bytes | None:
        """The baseline as a small opaque profile (no pixels) for the host to store; None if not calibrated."""
        return self.calibration.export_profile()

    def import_calibration(self, profile: bytes) -> None:
        """Use a profile from export_calibration(); CalibrationError if it is damaged or from another model."""
        self.calibration.import_profile(profile)

    def end_stream(self, timestamp: float) -> tuple:
        """The stream ended: every face is lost (and a running calibration fails), state is reset."""
        lost = tuple(self.tracker.close_all(timestamp)) + self._primary_change(timestamp)
        lost += tuple(self.calibration.end_stream(timestamp))
        self.debouncer.reset()
        self._held, self._frames_since_detection = None, 0
        self._reuse.clear()
        self.detector.reset()
        return lost

    def close(self) -> None:
        self.detector.close()
        self.classifier.close()

    def __enter__(self) -> "EmotionPipeline":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
