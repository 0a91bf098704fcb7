"""One row per participant × stimulus × expression: the numbers group statistics run on.

With ``c`` the baseline-corrected probability (``baseline.py``) and bins of ``bin_seconds`` over the seconds
of the stimulus the participant was shown:

* ``mean``: the mean of ``c`` over the frames where the face was found;
* ``peak``, ``peak_time_s``: the highest bin mean of ``c``, and the middle of that bin;
* ``auc``: area under the bin-mean curve of ``c``: the sum of bin value × bin width, a bin without a face
  taking the value interpolated linearly between the nearest bins with one (held flat past the first or
  last); units × seconds;
* ``dominant_share``: the share of face frames where this expression had the highest (uncorrected)
  probability;
* ``onset_s``: onset latency, the start of the first run of bins, all with a face and together at least
  ``onset_seconds`` long, in which the bin mean probability stays at least ``onset_rise`` above the
  baseline (above 0 with no baseline); blank when there is no such run;
* ``face_found_share``: frames with a face / frames; ``baseline``: which baseline, or why it is missing (then
  the values are blank).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._events import EMOTIONS
from .baseline import BaselineOptions, baseline_for, correct
from .recording import is_segment
from .series import Series, n_bins

COLUMNS = ("participant", "group", "stimulus", "expression", "baseline", "units", "frames", "face_found_share",
           "baseline_p", "mean", "peak", "peak_time_s", "auc", "dominant_share", "onset_s")
MEASURES = ("mean", "peak", "auc", "dominant_share", "onset_s")


@dataclass(frozen=True)
class OnsetRule:
    rise: float = 0.10  # probability units above the baseline
    seconds: float = 1.0  # how long the rise must last (whole bins: ceil(seconds / bin width))

    def __post_init__(self) -> None:
        if not 0 < self.rise <= 1:
            raise ValueError(f"onset rise must be above 0 and at most 1 (a probability), got {self.rise}")
        if not self.seconds > 0:
            raise ValueError(f"onset seconds must be above 0, got {self.seconds}")


def fill_gaps(values: np.ndarray) -> np.ndarray:
    """[B] with NaN gaps filled by linear interpolation between the nearest finite values, held flat at the ends."""
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return values
    x = np.arange(len(values))
    return np.interp(x, x[finite], values[finite])


def onset(rise: np.ndarray, width: float, rule: OnsetRule) -> float:
    """Start (s) of the first run of ceil(rule.seconds / width) bins with rise >= rule.rise (NaN bins break a run)."""
    need = max(1, math.ceil(rule.seconds / width - 1e-9))
    run = 0
    for b, value in enumerate(rise):
        run = run + 1 if value >= rule.rise - 1e-12 else 0  # NaN compares False
        if run == need:
            return (b - need + 1) * width
    return math.nan


def _rows_for(s: Series, base, options: BaselineOptions, width: float, rule: OnsetRule) -> list[dict]:
    frames = len(s.time)
    face_share = float(s.face.mean()) if frames else math.nan
    common = {"participant": s.participant, "group": s.group, "stimulus": s.stimulus, "baseline": base.label,
              "units": options.units, "frames": frames, "face_found_share": face_share}
    if base.value is None:
        return [{**common, "expression": e} for e in EMOTIONS]
    face = s.face_p()
    bins = s.bin_means(width, n_bins(s.played, width))
    corrected_bins = correct(bins, base.value, options)
    means = np.mean(correct(face, base.value, options), axis=0) if len(face) else np.full(len(EMOTIONS), np.nan)
    dominant = np.bincount(np.argmax(face, axis=1), minlength=len(EMOTIONS)) / len(face) if len(face) else None
    out = []
    for k, e in enumerate(EMOTIONS):
        row = {**common, "expression": e, "baseline_p": float(base.value[k]), "mean": float(means[k])}
        column = corrected_bins[:, k]
        if np.isfinite(column).any():
            b = int(np.nanargmax(column))
            row.update(peak=float(column[b]), peak_time_s=(b + 0.5) * width,
                       auc=float(fill_gaps(column).sum() * width))
        row["dominant_share"] = None if dominant is None else float(dominant[k])
        row["onset_s"] = onset(bins[:, k] - base.value[k], width, rule)
        out.append(row)
    return out


def participant_summaries(series: dict[tuple[str, str], Series], options: BaselineOptions, width: float,
                          rule: OnsetRule = OnsetRule()) -> list[dict]:
    """Rows in participant order, then stimulus order as shown, then expression."""
    out = []
    for (participant, stimulus), s in series.items():
        if is_segment(stimulus):
            continue
        out += _rows_for(s, baseline_for(series, participant, stimulus, options), options, width, rule)
    return out
