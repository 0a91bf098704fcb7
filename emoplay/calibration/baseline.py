"""A player's neutral baseline, and how it calibrates class probabilities.

A baseline is the mean log-probability per class over frames of one person's
relaxed face. Calibrating a frame subtracts it, scaled by ``strength``, and
renormalises::

    log q = log p - strength * mean(log b)       q normalised to sum 1

With ``strength`` 1 this divides the probabilities by the baseline's geometric
mean (a per-subject prototype baseline, in the log domain): whatever the model
sees in this person's resting face is taken out. A neutral face then comes out
close to uniform, so with 1 the neutral class is lost on faces that really are
neutral; lower strengths take out part of it (in log terms).

The default, 0.75, was chosen on faint expressions, the faces the model tends
to call neutral: CK+ peak faces blended half and half with the same person's
relaxed first frame (``models/make_subtle_set.py``), as 480 px frames through
the detector, each calibrated on its subject's other relaxed faces (``emoplay
eval --data DIR --faces detect --calibration per-subject --subject-pattern
'^(S\\d+)_' --calibration-strength S``, model 1.1.2). Rule: the highest balanced
accuracy (mean recall of the 7 classes: full-frame posed sets of subtle
expressions hold each class about equally often) among 0.25, 0.5, 0.75 and 1, as long as the CK+
peak frames lose no more than 0.01 of theirs. Faint faces: 0.468
uncalibrated; 0.515, 0.538, **0.597** and 0.550 at 0.25-1; expressive faces
right 42.1 % uncalibrated, 53.1 % at 0.5, 63.7 % at 0.75, and called neutral
34.2 %, 15.4 %, 5.1 %. Peak frames: 0.726 uncalibrated; 0.750, 0.754, 0.750,
0.684. The price: a relaxed face reads neutral less often (neutral recall on
the peak set's relaxed frames 0.94 uncalibrated, 0.88 at 0.5, 0.75 at 0.75,
0.29 at 1), and calibrated probabilities are flatter, so confidences are lower
(the debouncer says unknown when they stay below 0.35). On the shared videos whose calibration
succeeds, 0.75 and 0.5 give the same events (``python
benchmarks/auto_calibration_videos.py``). A host whose players are mostly
relaxed, and for whom a missed faint expression costs less than a relaxed face
read wrong, can pass ``CalibrationOptions(strength=0.5)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Probabilities are floored here before their log is taken: a class the model gives exactly 0 stays finite.
PROBABILITY_FLOOR = 1e-6
DEFAULT_STRENGTH = 0.75  # chosen on faint expressions: see above


def check_strength(strength: float) -> float:
    if isinstance(strength, bool) or not isinstance(strength, (int, float)) or not 0 < strength <= 1:
        raise ValueError(f"calibration strength must be a number in (0, 1], got {strength!r} "
                         "(1 divides by the baseline, 0.5 takes out half of it)")
    return float(strength)


@dataclass(frozen=True)
class Baseline:
    """One person's neutral baseline for one model. Immutable; :meth:`apply` calibrates probabilities."""

    class_names: tuple[str, ...]
    log_probabilities: tuple[float, ...]  # mean log-probability per class over the relaxed frames
    frames: int  # how many frames (or images) it was made from
    strength: float = DEFAULT_STRENGTH
    model_version: str = ""  # the model whose probabilities it was made from

    def __post_init__(self) -> None:
        if len(self.class_names) < 2 or len(self.log_probabilities) != len(self.class_names):
            raise ValueError(f"a baseline needs one log-probability per class: {len(self.class_names)} classes, "
                             f"{len(self.log_probabilities)} values")
        if not all(math.isfinite(v) and v <= 0 for v in self.log_probabilities):
            raise ValueError("baseline log-probabilities must be finite and <= 0")
        if isinstance(self.frames, bool) or not isinstance(self.frames, int) or self.frames < 1:
            raise ValueError(f"a baseline is made from at least one frame, got frames={self.frames!r}")
        check_strength(self.strength)

    @classmethod
    def from_probabilities(cls, probabilities: np.ndarray, class_names: tuple[str, ...], *,
                           strength: float = DEFAULT_STRENGTH, model_version: str = "") -> "Baseline":
        """The baseline of the relaxed frames' probabilities ``[N, C]`` (each row one frame or image)."""
        probs = np.asarray(probabilities, np.float64)
        if probs.ndim != 2 or probs.shape[0] < 1 or probs.shape[1] != len(class_names):
            raise ValueError(f"expected probabilities [N >= 1, {len(class_names)}], got shape {probs.shape}")
        if not np.all(np.isfinite(probs)) or probs.min() < 0:
            raise ValueError("probabilities must be finite and >= 0")
        logs = np.log(np.maximum(probs, PROBABILITY_FLOOR)).mean(axis=0)
        return cls(tuple(class_names), tuple(float(v) for v in logs), int(probs.shape[0]),
                   check_strength(strength), model_version)

    @property
    def probabilities(self) -> np.ndarray:
        """The baseline as a distribution: the normalised geometric mean of the relaxed frames."""
        b = np.exp(np.asarray(self.log_probabilities))
        return b / b.sum()

    def apply(self, probabilities: np.ndarray) -> np.ndarray:
        """Calibrated probabilities, float32, same shape as ``probabilities`` ([C] or [N, C]); rows sum to 1."""
        probs = np.asarray(probabilities, np.float64)
        if probs.shape[-1:] != (len(self.class_names),) or probs.ndim not in (1, 2):
            raise ValueError(f"expected probabilities [{len(self.class_names)}] or [N, {len(self.class_names)}], "
                             f"got shape {probs.shape}")
        logits = np.log(np.maximum(probs, PROBABILITY_FLOOR)) - self.strength * np.asarray(self.log_probabilities)
        logits -= logits.max(axis=-1, keepdims=True)
        q = np.exp(logits)
        return (q / q.sum(axis=-1, keepdims=True)).astype(np.float32)

    def with_strength(self, strength: float) -> "Baseline":
        return Baseline(self.class_names, self.log_probabilities, self.frames, check_strength(strength),
                        self.model_version)
