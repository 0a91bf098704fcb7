"""The pipeline's calibration: an explicit baseline for the primary face, a calibration in
progress, and (opt-in) automatic per-track baselines. Thread-safe: the worker thread feeds
frames while the host starts, resets, exports or imports.

Automatic mode (``PipelineOptions(auto_calibration=AutoCalibrationOptions())``, off by default)
is for hosts without a calibration step: during the first ``seconds`` of each track it collects
the frames whose top class is neutral, and from then on calibrates that track with them (a
track with fewer than ``min_frames`` such frames stays uncalibrated). An explicit baseline, when
there is one, takes precedence on the primary face. Measured on the CK+ crops with model 1.1.0,
each subject's other images that the model calls neutral standing in for a track's first seconds:
balanced accuracy 0.760 -> 0.773, accuracy 0.912 -> 0.888 (neutral recall 0.970 -> 0.923), about
what labelled neutral images give (``emoplay eval --data ckplus --calibration per-subject-auto
--subject-pattern '^(S\\d+)_'``). On the shared videos (``python benchmarks/auto_calibration_videos.py``)
it changes nothing on the three clips whose events are over within 3 s and, on talking_smiling.mp4,
turns the talking face's neutral spells into unknown (19 emotion changes without, 20 with). Too
small a gain, against the risk of a first expression being taken for the resting face, to turn
it on by default: it is off. Its strength stays 0.5 (``AUTO_STRENGTH``), the strength these
figures were measured at: a baseline taken from frames the model merely calls neutral is less sure
to be the resting face than one the player was asked for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from .._checks import check_number
from .baseline import DEFAULT_STRENGTH, Baseline, check_strength
from .calibrator import CalibrationOptions, Calibrator
from .profile import export_profile, import_profile

NEUTRAL = "neutral"
AUTO_STRENGTH = 0.5  # automatic baselines (see above); an explicit calibration's default is DEFAULT_STRENGTH


@dataclass(frozen=True)
class AutoCalibrationOptions:
    seconds: float = 3.0  # the first seconds of each track are collected
    min_frames: int = 10  # neutral-looking frames needed for a track's baseline
    strength: float = AUTO_STRENGTH

    def __post_init__(self) -> None:
        check_number("AutoCalibrationOptions", "seconds", self.seconds, low=0, high=600, low_open=True)
        check_number("AutoCalibrationOptions", "min_frames", self.min_frames, low=1, integer=True)
        check_strength(self.strength)


@dataclass
class _AutoTrack:
    first_seen: float
    frames: list
    baseline: Baseline | None = None
    closed: bool = False


class CalibrationState:
    def __init__(self, class_names: tuple[str, ...], model_version: str,
                 auto: AutoCalibrationOptions | None = None, model_strength: float = DEFAULT_STRENGTH) -> None:
        self.class_names = tuple(class_names)
        self.model_version = model_version
        self.model_strength = model_strength  # an explicit calibration's strength when its options give none
        self.auto = auto
        self._lock = threading.Lock()
        self._baseline: Baseline | None = None
        self._calibrator: Calibrator | None = None
        self._auto_tracks: dict[int, _AutoTrack] = {}
        self._neutral = self.class_names.index(NEUTRAL) if NEUTRAL in self.class_names else None
        if auto is not None and self._neutral is None:
            raise ValueError(f"automatic calibration needs a {NEUTRAL!r} class; the model has {self.class_names}")

    # -- host side ----------------------------------------------------------------------------------------
    @property
    def baseline(self) -> Baseline | None:
        """The primary face's baseline, None when not calibrated."""
        return self._baseline

    @property
    def calibrating(self) -> bool:
        return self._calibrator is not None

    def start(self, options: CalibrationOptions) -> None:
        """Start a calibration (a running one is replaced). The current baseline stays until it finishes."""
        with self._lock:
            self._calibrator = Calibrator(self.class_names, options, self.model_version, self.model_strength)

    def reset(self) -> None:
        """Forget the baseline and stop a running calibration (no event); automatic baselines restart."""
        with self._lock:
            self._baseline, self._calibrator = None, None
            self._auto_tracks.clear()

    def set_baseline(self, baseline: Baseline | None) -> None:
        if baseline is not None and baseline.class_names != self.class_names:
            raise ValueError(f"the baseline's classes {baseline.class_names} are not the model's {self.class_names}")
        with self._lock:
            self._baseline = baseline

    def export_profile(self) -> bytes | None:
        baseline = self._baseline
        return None if baseline is None else export_profile(baseline)

    def import_profile(self, profile: bytes) -> None:
        self.set_baseline(import_profile(profile, self.class_names, self.model_version))

    # -- the frame loop -----------------------------------------------------------------------------------
    def update(self, timestamp: float, track_ids: tuple[int, ...], probabilities: np.ndarray,
               confirmed: set[int], primary_id: int | None) -> tuple[np.ndarray, list]:
        """Calibrated probabilities for this frame's faces (a new array) and the calibration events."""
        events: list = []
        with self._lock:
            calibrator = self._calibrator
            if calibrator is not None:
                row = track_ids.index(primary_id) if primary_id in track_ids else None
                events = calibrator.update(timestamp, confirmed, primary_id,
                                           None if row is None else probabilities[row])
                if calibrator.done:
                    self._calibrator = None
                    if calibrator.baseline is not None:
                        self._baseline = calibrator.baseline
            baseline = self._baseline
            if self.auto is not None:
                self._update_auto(timestamp, track_ids, probabilities, confirmed)
            if baseline is None and not self._auto_tracks:
                return probabilities, events
            out = np.array(probabilities, np.float32, copy=True)
            for i, track_id in enumerate(track_ids):
                use = baseline if track_id == primary_id and baseline is not None else self._auto_baseline(track_id)
                if use is not None:
                    out[i] = use.apply(probabilities[i])
            return out, events

    def end_stream(self, timestamp: float, why: str = "capture stopped") -> list:
        """The stream ended or capture paused: a running calibration fails (one still waiting for its first
        frame stays, for the next stream), automatic baselines restart."""
        with self._lock:
            self._auto_tracks.clear()
            calibrator = self._calibrator
            if calibrator is None or not calibrator.started:
                return []
            self._calibrator = None
        return calibrator.end(timestamp, why)

    def _auto_baseline(self, track_id: int) -> Baseline | None:
        track = self._auto_tracks.get(track_id)
        return None if track is None else track.baseline

    def _update_auto(self, timestamp: float, track_ids: tuple[int, ...], probabilities: np.ndarray,
                     confirmed: set[int]) -> None:
        for gone in [t for t in self._auto_tracks if t not in confirmed]:
            del self._auto_tracks[gone]
        for i, track_id in enumerate(track_ids):
            if track_id not in confirmed:
                continue
            track = self._auto_tracks.setdefault(track_id, _AutoTrack(timestamp, []))
            if track.closed:
                continue
            if timestamp - track.first_seen <= self.auto.seconds:
                if int(np.argmax(probabilities[i])) == self._neutral:
                    track.frames.append(np.asarray(probabilities[i], np.float32).copy())
                continue
            track.closed = True
            if len(track.frames) >= self.auto.min_frames:
                track.baseline = Baseline.from_probabilities(np.stack(track.frames), self.class_names,
                                                             strength=self.auto.strength,
                                                             model_version=self.model_version)
            track.frames = []
