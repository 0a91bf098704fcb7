"""Baseline correction: each participant's expression values relative to their own resting face.

The baseline of a participant for a stimulus is, per expression, the **median** probability over the face
frames of a baseline period (the median resists a blink or a brief grin in it):

* ``calibration``: the "relax your face" step before the first stimulus (the ``_baseline`` segment);
* ``pre-stimulus``: the rest and fixation screens shown just before that stimulus (``_pre-<id>``);
* ``none``: no correction (the baseline is taken as 0).

Corrected values are ``p - b`` (``difference``, in probability units) or ``100 * (p - b) / b`` (``percent``;
undefined where ``b`` is under :data:`PERCENT_FLOOR`, since a percentage of almost nothing explodes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._events import EMOTIONS
from .recording import BASELINE, pre_stimulus_id
from .series import Series

KINDS = ("none", "calibration", "pre-stimulus")
MODES = ("difference", "percent")
PERCENT_FLOOR = 0.01  # a baseline probability under this gives no percentage change (NaN)


@dataclass(frozen=True)
class BaselineOptions:
    kind: str = "none"
    mode: str = "difference"

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"baseline must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.mode not in MODES:
            raise ValueError(f"baseline mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    @property
    def label(self) -> str:
        """What the tables' ``baseline`` column says: "none", or e.g. "calibration, difference"."""
        return "none" if self.kind == "none" else f"{self.kind}, {self.mode}"

    @property
    def units(self) -> str:
        return "percent change" if self.kind != "none" and self.mode == "percent" else "probability"


@dataclass(frozen=True)
class Baseline:
    value: np.ndarray | None  # [7] per-expression baseline; None when it could not be computed
    label: str  # the options' label, or that label and why it is missing


def segment_of(stimulus: str, kind: str) -> str | None:
    """The id of the frames that are ``stimulus``'s baseline, or None for ``none``."""
    if kind == "calibration":
        return BASELINE
    if kind == "pre-stimulus":
        return pre_stimulus_id(stimulus)
    return None


def baseline_for(series: dict[tuple[str, str], Series], participant: str, stimulus: str,
                 options: BaselineOptions) -> Baseline:
    if options.kind == "none":
        return Baseline(np.zeros(len(EMOTIONS)), options.label)
    segment = series.get((participant, segment_of(stimulus, options.kind)))
    if segment is None:
        where = "no calibration step" if options.kind == "calibration" else "no rest or fixation screen before it"
        return Baseline(None, f"{options.label}: missing ({where})")
    face = segment.face_p()
    if len(face) == 0:
        return Baseline(None, f"{options.label}: missing (no face in the baseline period)")
    return Baseline(np.median(face, axis=0), options.label)


def correct(p: np.ndarray, base: np.ndarray, options: BaselineOptions) -> np.ndarray:
    """``p`` [..., 7] relative to ``base`` [7] as ``options`` say."""
    if options.kind == "none":
        return p
    if options.mode == "difference":
        return p - base
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base >= PERCENT_FLOOR, 100.0 * (p - base) / base, np.nan)
