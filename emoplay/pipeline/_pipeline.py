"""One frame through every stage: pixels → faces → emotions → tracks → debounced events.

The pipeline is synchronous and owns no thread, so it can be driven frame by
frame from tests, benchmarks, offline tools or a host's own loop; the
:class:`~emoplay.Sensor` runs it on its worker thread. Frame pixels and face
crops live for one step: they are only borrowed for the duration of
:meth:`EmotionPipeline.process` and never kept (to recognise an unchanged face
the pipeline keeps, per track, a 16-byte digest of the crop last classified and,
with ``classify_every`` or ``detect_every`` > 1 or ``alternate_views``, 12x12 thumbnails of the crops
the model last saw (one per view with alternating views): 144 bytes each, too coarse to show who the
player is; see ``_reuse.py``). Only the face crops are converted to
gray, never the whole frame.

Four levers trade work for nothing or almost nothing (``emoplay bench`` measures
them; models/EXPERIMENTS.md has the figures):

* ``reuse_unchanged_crops`` (on): a tracked face whose crop is byte-for-byte the
  one last classified keeps its probabilities instead of being
  classified again. Results are unchanged; it saves the model's run on repeated
  frames (a host submitting the same camera frame on several game ticks, a still
  image, a paused video). Crops are compared by a BLAKE2b digest.
* ``detect_every`` (4) and ``redetect_on_change`` (on): a face that neither
  moves nor changes needs no detector on every frame. The detector runs on the
  first frame, at least every Nth frame after, at once when a held face's crop
  (cut from the last detection's box) changed by more than ``reclassify_change``
  since the model last ran on it (the face moved out of its box, or turned), and
  on every frame while a track awaits confirmation or went unseen, so faces are
  found and lost at the moments of ``detect_every=1`` give or take a frame.
  Frames in between reuse the last boxes and track ids and are still classified
  and debounced. A second face that enters beside a stable one is found up to
  N-1 frames later. 1 runs the detector on every frame.
* ``classify_every`` (4) and ``reclassify_change`` (3.0): run the emotion model
  on a tracked face at least every Nth frame; on the frames between, the face
  keeps its last probabilities unless its crop changed by more than
  ``reclassify_change`` since the model last saw it (mean absolute difference of
  12x12 thumbnails of the 48x48 crops, in gray levels 0-255: a still face's
  sensor noise and a box that moved by a pixel stay below 3, a new expression
  or a jump goes above), in which case it is classified at once. Events are
  still decided on every frame. 1 classifies every frame (whose crop changed).

* ``alternate_views`` (on; a classifier that runs the mirror view itself, as for
  model 1.1.2): a stable face's refresh runs one view, the face or its mirror
  image in turn, and its probabilities are the mean of that view and the other
  view's last result while the crop did not change by more than
  ``reclassify_change``; a new face gets both views at once, a changed face one
  view at once and the other on the next frame (``_reuse.py``). Off: both views
  on every model run.

With the defaults, a face on ``emoplay bench``'s camera-like frames needs the
detector on 28 % of them and one view of the model on 43 % (both views on 50 %
of frames with 2 and 2, and on every frame with 1 and 1): about 30 % of the CPU
of 1 and 1 (``python benchmarks/stable_face_rates.py`` measures it). An abrupt change of expression is
reported as fast as with 1 and 1, and so is a slow 10-frame cross-fade; with the
``responsive`` stability preset, on the three short shared clips the events are
those of 1 and 1, emotion changes within 0.1 s, and on the 15 s talking clip (an
expression hovering between neutral and happy) 20 of 1 and 1's 26 changes come
within 0.1 s, plus 8 others (``benchmarks/stable_face_rates.py``;
models/EXPERIMENTS.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import check_flag, check_number, check_timestamp
from ._classify import ClassifierOptions, EmotionClassifier
from ._debounce import DebounceOptions, Debouncer, resolve_debounce
from ..detection import DetectorOptions, Detections, FaceDetector
from .._events import EmotionChanged, FaceFound, FaceLost, PrimaryFaceChanged
from .._frames import check_frame
from ._reuse import CropReuse
from ._track import FaceTracker, TrackerOptions
from ..calibration.calibrator import CalibrationOptions
from ..calibration.per_track import AutoCalibrationOptions, CalibrationState


MIN_FACE_PX = 20


@dataclass(frozen=True)
class PipelineOptions:
    detector: DetectorOptions = field(default_factory=DetectorOptions)
    classifier: ClassifierOptions = field(default_factory=ClassifierOptions)
    tracker: TrackerOptions = field(default_factory=TrackerOptions)
    # When a face's emotion changes: a preset by name ("responsive", "balanced", "dialogue"; None: "balanced"),
    # or explicit DebounceOptions, which override the preset (see debounce_options).
    stability: str | None = None
    debounce: DebounceOptions | None = None
    detect_every: int = 4  # run the detector at least every Nth frame; frames between reuse its boxes (see above)
    redetect_on_change: bool = True  # ... and at once when a held face's crop changed (by reclassify_change)
    reuse_unchanged_crops: bool = True  # a face whose crop did not change keeps its probabilities
    classify_every: int = 4  # run the model on a tracked face at least every Nth frame; between, keep its probabilities
    reclassify_change: float = 3.0  # ... unless its crop changed by more (mean abs difference, gray levels; see above)
    alternate_views: bool = True  # refresh a stable face with one view at a time: the face, then its mirror (above)
    auto_calibration: AutoCalibrationOptions | None = None  # running baselines per track (off; per_track.py)
    # Faces whose box is shorter than this (pixels) are found, tracked and reported (FaceFound, boxes) but not
    # classified: their emotion is "unknown". Below it the model's accuracy falls away (models/MODEL_CARD.md,
    # "Face size"; models/small_face_curve.py measures it). 1 classifies every face the detector keeps.
    min_face_px: int = MIN_FACE_PX

    def __post_init__(self) -> None:
        for flag in ("redetect_on_change", "reuse_unchanged_crops", "alternate_views"):
            check_flag("PipelineOptions", flag, getattr(self, flag))
        if self.auto_calibration is not None and not isinstance(self.auto_calibration, AutoCalibrationOptions):
            raise TypeError(f"PipelineOptions.auto_calibration must be AutoCalibrationOptions or None, got "
                            f"{self.auto_calibration!r}")
        resolve_debounce(self.debounce, self.stability)  # an unknown preset or a wrong type fails here
        check_number("PipelineOptions", "detect_every", self.detect_every, low=1, integer=True)
        check_number("PipelineOptions", "classify_every", self.classify_every, low=1, integer=True)
        check_number("PipelineOptions", "reclassify_change", self.reclassify_change, low=0, high=255)
        check_number("PipelineOptions", "min_face_px", self.min_face_px, low=1, integer=True)

    @property
    def debounce_options(self) -> DebounceOptions:
        """The debounce options in force: ``debounce`` if given, else the ``stability`` preset's."""
        return resolve_debounce(self.debounce, self.stability)


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
        self.debouncer = Debouncer(self.classifier.class_names, options.debounce_options)
        # Per-player baselines, applied before smoothing and debouncing (emoplay/calibration).
        self.calibration = CalibrationState(self.class_names, self.classifier.info.version, options.auto_calibration,
                                            self.classifier.info.calibration_strength)
        self._held: tuple[Detections, tuple[int, ...]] | None = None  # last detection and its track ids
        self._frames_since_detection = 0
        # Per track: what the model said last and when; decides which crops need the model (_reuse.py).
        # One view per refresh needs a classifier that runs the mirror view itself (model 1.1.2 on).
        self._alternate_views = options.alternate_views and self.classifier.flip_average
        self._reuse = CropReuse(len(self.class_names), options.classify_every, options.reclassify_change,
                                options.reuse_unchanged_crops,
                                watch_changes=(options.redetect_on_change and options.detect_every > 1)
                                or self._alternate_views)
        self._primary_id: int | None = None  # the primary face last reported (PrimaryFaceChanged)
        self._last_timestamp: float | None = None  # of the stream's latest frame

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.classifier.class_names

    def process(self, pixels: np.ndarray, timestamp: float, color_order: str = "bgr") -> FrameResult:
        events: list = []
        # The detector fixes the colour order on its 128x128 input, and only the face crops are converted to gray:
        # no RGB or gray copy of the whole frame.
        pixels = check_frame(pixels, color_order)
        self._check_timestamp(timestamp)
        crops = thumbs = None
        if self._detection_due():
            detections, matches = self._detect(pixels, timestamp, color_order, events)
        else:
            detections, matches = self._held
            crops = self.classifier.crop_faces(pixels, detections.boxes, color_order)
            if self.options.redetect_on_change:
                thumbs = self._reuse.thumbnails_of(crops)  # made once: for this check, then for _classify
            if thumbs is not None and self._reuse.changed(thumbs, matches):
                crops.fill(0)  # a held face moved or changed: find the faces again on this frame
                self._reuse.discard(thumbs)
                crops = thumbs = None
                detections, matches = self._detect(pixels, timestamp, color_order, events)
            else:
                self._frames_since_detection += 1
                self.tracker.seen(matches, timestamp)  # its unchanged crop shows the face still there
        if crops is None:
            crops = self.classifier.crop_faces(pixels, detections.boxes, color_order)
        probs = self._classify(crops, matches, thumbs, detections.boxes[:, 3] < self.options.min_face_px)
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

    def _check_timestamp(self, timestamp: float) -> None:
        """Frames of one stream come in time order; before any state changes, refuse one that does not."""
        seconds = check_timestamp("timestamp", timestamp, self._last_timestamp, "call end_stream() before a new one")
        self._last_timestamp = seconds

    def _detection_due(self) -> bool:
        """The detector runs on the first frame, at least every ``detect_every`` frames, and on every frame
        while a track awaits confirmation or went unseen by the last detection (so faces are found and lost
        at the moments ``detect_every=1`` gives, give or take a frame)."""
        if self._held is None or self._frames_since_detection + 1 >= self.options.detect_every:
            return True
        seen = set(self._held[1])
        return any(not t.confirmed or t.track_id not in seen for t in self.tracker.tracks)

    def _detect(self, pixels: np.ndarray, timestamp: float, color_order: str,
                events: list) -> tuple[Detections, tuple[int, ...]]:
        detections = self.detector.detect(pixels, timestamp, color_order)
        update = self.tracker.update(detections.boxes, timestamp, detections.scores, detections.keypoints)
        events += update.events
        for track_id in update.lost_ids:
            self.debouncer.forget(track_id)
        for tentative, number in update.renamed:  # a confirmed face keeps what was learnt while it was tentative
            self._reuse.rename(tentative, number)
        self._held, self._frames_since_detection = (detections, update.matches), 0
        events += self._primary_change(timestamp)
        return detections, update.matches

    def _primary_change(self, timestamp: float) -> tuple[PrimaryFaceChanged, ...]:
        previous, current = self._primary_id, self.tracker.primary_id
        if previous == current:
            return ()
        self._primary_id = current
        return (PrimaryFaceChanged(previous, current, timestamp),)

    def emotion_of(self, track_id: int | None) -> tuple[str, float] | None:
        """The debounced (emotion, confidence) of a track now; None for no track or one without emotion yet."""
        return None if track_id is None else self.debouncer.current(track_id)

    def _classify(self, crops: np.ndarray, track_ids: tuple[int, ...],
                  thumbs: list[np.ndarray | None] | None = None, too_small: np.ndarray | None = None) -> np.ndarray:
        """Probabilities per crop; tracks whose probabilities still hold keep them (see the module docstring).
        Faces ``too_small`` to read get equal probabilities for every class, which the debouncer calls unknown."""
        classes = len(self.class_names)
        try:
            if too_small is None or not too_small.any():
                return self._reuse.probabilities(crops, track_ids, self.classifier.classify_crops,
                                                 self.classifier if self._alternate_views else None, thumbs)
            probs = np.full((len(crops), classes), 1.0 / classes, np.float32)
            read = np.flatnonzero(~too_small)
            self._reuse.discard([thumbs[i] for i in np.flatnonzero(too_small)] if thumbs is not None else [])
            if len(read):
                readable = crops[read]
                try:
                    probs[read] = self._reuse.probabilities(
                        readable, tuple(track_ids[i] for i in read), self.classifier.classify_crops,
                        self.classifier if self._alternate_views else None,
                        None if thumbs is None else [thumbs[i] for i in read])
                finally:
                    readable.fill(0)
            else:
                self._reuse.clear()  # no face to read: what was kept of every track goes
            return probs
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

    def new_stream(self) -> None:
        """The next frame starts a stream of its own: its timestamps need not follow the last frame's. (end_stream()
        does this too, and ends the faces; this keeps a calibration that was asked for before the stream began.)"""
        self._last_timestamp = None

    def end_stream(self, timestamp: float) -> tuple:
        """The stream ended: every face is lost (and a running calibration fails), state is reset."""
        lost = tuple(self.tracker.close_all(timestamp)) + self._primary_change(timestamp)
        lost += tuple(self.calibration.end_stream(timestamp))
        self.debouncer.reset()
        self._held, self._frames_since_detection = None, 0
        self._last_timestamp = None
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
