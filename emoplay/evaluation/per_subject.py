"""Per-subject calibration of a labelled data set: how ``emoplay eval --calibration`` measures it.

Each image is calibrated with a :class:`~emoplay.calibration.Baseline` made, exactly as the
runtime makes one (``Baseline.from_probabilities``), from its subject's *other* neutral images:
never from the image itself. The subject of an image is the first group of a regular expression
searched in its file name. Images whose subject has no other neutral image (with a face), and
images whose name does not match, stay uncalibrated and are counted.

Two ways to pick a subject's neutral images:

* ``per-subject``: the images labelled neutral (what a calibration step asking the player to
  relax gives);
* ``per-subject-auto``: the images the model itself calls neutral, labels unused (what the
  automatic mode, which sees no labels, would collect).

Unless told otherwise, each method calibrates at the strength of its runtime counterpart
(:func:`runtime_strength`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

from .._errors import DataError
from ..calibration.baseline import DEFAULT_STRENGTH, Baseline
from ..calibration.per_track import AUTO_STRENGTH

METHODS = ("per-subject", "per-subject-auto")
NEUTRAL = "neutral"


@dataclass(frozen=True)
class SubjectCalibration:
    probabilities: np.ndarray  # float32 [N, C]: calibrated where ``calibrated``, else as given
    calibrated: np.ndarray  # bool [N]
    subjects: int  # distinct subjects among the names that matched
    unmatched: int  # images whose name has no subject (left uncalibrated)
    strength: float  # the strength the baselines were made with


def subjects_of(names: tuple[str, ...] | list[str], pattern: str) -> list[str | None]:
    """The subject of each name: the first group of ``pattern`` searched in its file name (None: no match)."""
    try:
        regex = re.compile(pattern)
    except re.error as e:
        raise DataError(f"--subject-pattern {pattern!r} is not a valid regular expression ({e})") from e
    if regex.groups < 1:
        raise DataError(f"--subject-pattern {pattern!r} has no group: put the subject id in parentheses, "
                        r"e.g. '^(S\d+)_'")
    subjects = []
    for name in names:
        match = regex.search(PurePath(name).name)
        subjects.append(match.group(1) if match and match.group(1) else None)
    return subjects


def runtime_strength(method: str, model_strength: float = DEFAULT_STRENGTH) -> float:
    """The strength the runtime calibrates at for ``method``: an explicit calibration's default for
    ``per-subject`` (the model's own, ``model_strength``), automatic mode's for ``per-subject-auto``."""
    if method not in METHODS:
        raise ValueError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    return AUTO_STRENGTH if method == "per-subject-auto" else model_strength


def calibrate_per_subject(probabilities: np.ndarray, labels: np.ndarray, found: np.ndarray,
                          subjects: list[str | None], class_names: tuple[str, ...], *, method: str = "per-subject",
                          strength: float | None = None, model_version: str = "",
                          model_strength: float = DEFAULT_STRENGTH) -> SubjectCalibration:
    """Calibrate every image with a found face on its subject's other neutral images (leave one out);
    ``strength`` None: :func:`runtime_strength` of ``method``."""
    default = runtime_strength(method, model_strength)  # and the method is checked
    strength = default if strength is None else strength
    if NEUTRAL not in class_names:
        raise DataError(f"per-subject calibration needs a {NEUTRAL!r} class; the model has {', '.join(class_names)}")
    probs = np.asarray(probabilities, np.float32)
    labels, found = np.asarray(labels), np.asarray(found, bool)
    if not len(probs) == len(labels) == len(found) == len(subjects):
        raise ValueError("probabilities, labels, found and subjects must have one entry per image")
    neutral_index = class_names.index(NEUTRAL)
    is_neutral = (labels == neutral_index) if method == "per-subject" else (probs.argmax(axis=1) == neutral_index)
    is_neutral &= found
    out, calibrated = probs.copy(), np.zeros(len(probs), bool)
    groups: dict[str, list[int]] = {}
    for i, subject in enumerate(subjects):
        if subject is not None:
            groups.setdefault(subject, []).append(i)
    for members in groups.values():
        members = np.asarray(members)
        neutrals = members[is_neutral[members]]
        for i in members[found[members]]:
            others = neutrals[neutrals != i]  # never the image itself
            if len(others) == 0:
                continue
            baseline = Baseline.from_probabilities(probs[others], class_names, strength=strength,
                                                   model_version=model_version)
            out[i] = baseline.apply(probs[i])
            calibrated[i] = True
    return SubjectCalibration(out, calibrated, len(groups), sum(s is None for s in subjects), strength)
