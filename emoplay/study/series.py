"""Each participant's frames of one stimulus as arrays, and their means in time bins.

A :class:`Series` is what the per-participant statistics start from: media times, whether a face was found,
the 7 probabilities (NaN where no face), and how many seconds of the stimulus were played to them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._events import EMOTIONS
from .logs import ParticipantLog


@dataclass(frozen=True)
class Series:
    participant: str  # the report's label (P01, ...)
    group: str
    stimulus: str
    time: np.ndarray  # [N] media time, seconds
    face: np.ndarray  # [N] bool
    p: np.ndarray  # [N, 7] probabilities in EMOTIONS order; NaN rows where no face
    played: float  # media seconds shown: where the stimulus ended, else the last frame's time

    def face_p(self) -> np.ndarray:
        return self.p[self.face]

    def bin_means(self, width: float, n_bins: int) -> np.ndarray:
        """[n_bins, 7] mean probabilities of the face frames in each bin of ``width`` seconds; NaN: no face."""
        index = np.minimum((self.time[self.face] // width).astype(int), n_bins - 1)
        sums = np.zeros((n_bins, len(EMOTIONS)))
        np.add.at(sums, index, self.p[self.face])
        counts = np.bincount(index, minlength=n_bins)[:n_bins]
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums / counts[:, None]


def n_bins(seconds: float, width: float) -> int:
    return max(1, math.ceil(seconds / width - 1e-9))


def series_of(participants: list[ParticipantLog]) -> dict[tuple[str, str], Series]:
    """(participant label, stimulus id) -> Series, for every stimulus and baseline segment in the logs."""
    out: dict[tuple[str, str], Series] = {}
    for person in participants:
        collected: dict[str, tuple[list, list, list]] = {}
        ended: dict[str, float] = {}
        for record in person.records:
            data = record.data or {}
            if record.type == "FrameProbabilities":
                times, faces, probs = collected.setdefault(data["stimulus"], ([], [], []))
                times.append(data["media_time"])
                faces.append(bool(data["face"]))
                p = record.probabilities
                probs.append([p[e] for e in EMOTIONS] if p else [math.nan] * len(EMOTIONS))
            elif record.type == "StimulusEnded":
                ended[data["stimulus"]] = float(data["media_time"])
        for stimulus, (times, faces, probs) in collected.items():
            time = np.asarray(times, dtype=float)
            out[(person.label, stimulus)] = Series(
                person.label, person.group, stimulus, time, np.asarray(faces, dtype=bool),
                np.asarray(probs, dtype=float).reshape(-1, len(EMOTIONS)),
                ended.get(stimulus, float(time.max()) if len(time) else 0.0))
    return out
