"""Collects a few seconds of one relaxed face and turns them into a :class:`Baseline`.

The :class:`Calibrator` is fed once per frame (by the pipeline) with the
primary face's uncalibrated probabilities. Collection starts on the first frame
with a confirmed primary face and lasts ``seconds`` of frame time; it reports
:class:`~emoplay.CalibrationProgress` every ``progress_step`` and ends with
:class:`~emoplay.CalibrationFinished` or :class:`~emoplay.CalibrationFailed`,
whose ``reason`` is one of:

* ``no_face``: no face was confirmed within ``face_timeout_s`` of the first frame;
* ``face_lost``: the face being calibrated was lost (the tracker's grace period passed);
* ``several_faces``: more than one face was in view (whose face would it be?);
* ``too_short``: capture stopped first (end of a video, stop, a paused camera), or fewer than
  ``min_frames`` frames had the face;
* ``unstable``: the face moved too much to be a resting face: the mean total-variation distance
  between each frame's probabilities and their mean exceeded ``max_instability``. Measured with
  model 1.1.0 over 2 s windows of the shared videos: a still face 0.05-0.12, the neutral-then-smile
  start of single_face.mp4 0.30, a woman talking and smiling (talking_smiling.mp4) 0.21-0.45.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._checks import check_number
from .._events import CalibrationFailed, CalibrationFinished, CalibrationProgress
from .baseline import DEFAULT_STRENGTH, Baseline, check_strength

MIN_SECONDS = 0.2  # shorter than this is a caller mistake (ValueError), not a failed calibration


@dataclass(frozen=True)
class CalibrationOptions:
    seconds: float = 3.0  # how long the relaxed face is collected, in frame time
    # how much of the baseline is taken out (see baseline.py); None: the model's own (ModelInfo
    # .calibration_strength, from its emoplay.calibration_strength metadata; DEFAULT_STRENGTH without it)
    strength: float | None = None
    face_timeout_s: float = 5.0  # fail with "no_face" if no face is confirmed this long after the first frame
    min_frames: int = 5  # fewer frames with the face than this: "too_short"
    max_instability: float = 0.25  # mean total-variation distance from the mean above this: "unstable"
    progress_step: float = 0.1  # a CalibrationProgress event each time this fraction more is collected

    def __post_init__(self) -> None:
        if isinstance(self.seconds, bool) or not isinstance(self.seconds, (int, float)) or \
                not MIN_SECONDS <= self.seconds <= 600:
            raise ValueError(f"calibration seconds must be between {MIN_SECONDS} and 600, got {self.seconds!r} "
                             "(3 s of a relaxed face is typical)")
        if self.strength is not None:
            check_strength(self.strength)
        check_number("CalibrationOptions", "face_timeout_s", self.face_timeout_s, low=0, low_open=True)
        check_number("CalibrationOptions", "min_frames", self.min_frames, low=1, integer=True)
        check_number("CalibrationOptions", "max_instability", self.max_instability, low=0, high=1, low_open=True)
        check_number("CalibrationOptions", "progress_step", self.progress_step, low=0, high=1, low_open=True)


def instability(probabilities: np.ndarray) -> float:
    """Mean total-variation distance between each row of ``[N, C]`` and the rows' mean (0: all equal)."""
    probs = np.asarray(probabilities, np.float64)
    return float(0.5 * np.abs(probs - probs.mean(axis=0)).sum(axis=1).mean())


class Calibrator:
    """One calibration run. Feed :meth:`update` every frame until :attr:`done`; then :attr:`baseline` (or None)."""

    def __init__(self, class_names: tuple[str, ...], options: CalibrationOptions = CalibrationOptions(),
                 model_version: str = "", model_strength: float = DEFAULT_STRENGTH) -> None:
        self.class_names = tuple(class_names)
        self.options = options
        self.model_version = model_version
        self.strength = check_strength(options.strength if options.strength is not None else model_strength)
        self.track_id: int | None = None
        self.baseline: Baseline | None = None
        self.done = False
        self._first_frame_at: float | None = None
        self._started_at = 0.0
        self._frames: list[np.ndarray] = []
        self._reported = 0  # progress steps reported so far

    @property
    def started(self) -> bool:
        """It has seen a frame (until then a stream reset leaves it waiting)."""
        return self._first_frame_at is not None

    def update(self, timestamp: float, confirmed_ids: set[int], primary_id: int | None,
               primary_probabilities: np.ndarray | None) -> list:
        """One frame: the confirmed track ids, the primary track and its uncalibrated probabilities
        (None when the primary face was not classified on this frame). Returns the events it caused."""
        if self.done:
            return []
        if self._first_frame_at is None:
            self._first_frame_at = timestamp
        if len(confirmed_ids) > 1:
            return self._fail("several_faces", f"{len(confirmed_ids)} faces were in view: calibrate with only the "
                                               "player in front of the camera", timestamp)
        if self.track_id is None:
            if primary_id is None or primary_id not in confirmed_ids:
                if timestamp - self._first_frame_at > self.options.face_timeout_s:
                    return self._fail("no_face", f"no face was seen in {self.options.face_timeout_s:g} s: the "
                                                 "player should face the camera, in good light", timestamp)
                return []
            self.track_id, self._started_at = primary_id, timestamp
        elif self.track_id not in confirmed_ids:
            return self._fail("face_lost", "the face was lost during calibration: the player should stay in view",
                              timestamp)
        if primary_id == self.track_id and primary_probabilities is not None:
            self._frames.append(np.asarray(primary_probabilities, np.float32).copy())
        fraction = min((timestamp - self._started_at) / self.options.seconds, 1.0)
        if fraction >= 1.0:
            return self._finish(timestamp)
        steps = int(fraction / self.options.progress_step + 1e-9)
        if steps > self._reported:
            self._reported = steps
            return [CalibrationProgress(self.track_id, fraction, len(self._frames), timestamp)]
        return []

    def end(self, timestamp: float, why: str = "capture stopped") -> list:
        """The stream ended or capture paused before the calibration finished."""
        if self.done:
            return []
        collected = 0.0 if self.track_id is None else timestamp - self._started_at
        return self._fail("too_short", f"{why} after {collected:.1f} s of the {self.options.seconds:g} s "
                                       "calibration: calibrate again", timestamp)

    def _finish(self, timestamp: float) -> list:
        if len(self._frames) < self.options.min_frames:
            return self._fail("too_short", f"the face was classified on {len(self._frames)} frames, fewer than "
                                           f"{self.options.min_frames}: calibrate for longer", timestamp)
        frames = np.stack(self._frames)
        moved = instability(frames)
        if moved > self.options.max_instability:
            return self._fail("unstable", f"the face changed too much (instability {moved:.2f} > "
                                          f"{self.options.max_instability:g}): the player should relax and keep "
                                          "still, then calibrate again", timestamp)
        self.baseline = Baseline.from_probabilities(frames, self.class_names, strength=self.strength,
                                                    model_version=self.model_version)
        self.done = True
        self._frames = []
        return [CalibrationProgress(self.track_id, 1.0, len(frames), timestamp),
                CalibrationFinished(self.track_id, len(frames), timestamp - self._started_at, timestamp)]

    def _fail(self, reason: str, message: str, timestamp: float) -> list:
        self.done = True
        self._frames = []
        return [CalibrationFailed(reason, message, timestamp)]
