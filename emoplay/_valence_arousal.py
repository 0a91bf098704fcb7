"""Valence and arousal: one coarse projection of the seven class probabilities, shared by the bridge's
messages and the study's tables (one table, so that both report the same numbers for the same face)."""

from __future__ import annotations

from typing import Mapping

# Approximate positions of the seven classes on Russell's circumplex of affect (valence: unpleasant -1 ..
# pleasant +1; arousal: calm -1 .. activated +1), read off the usual circumplex figures. They are coarse and
# approximate: a label says nothing about how strongly a person feels. The bridge publishes this table in
# its welcome message (docs/bridge/PROTOCOL.md), so changing it changes the protocol.
VALENCE_AROUSAL: dict[str, tuple[float, float]] = {
    "angry": (-0.6, 0.7),
    "disgust": (-0.7, 0.3),
    "fear": (-0.6, 0.6),
    "happy": (0.8, 0.4),
    "sad": (-0.7, -0.4),
    "surprise": (0.3, 0.8),
    "neutral": (0.0, 0.0),
}


def valence_arousal(probabilities: Mapping[str, float]) -> tuple[float, float]:
    """The probability-weighted mean of the classes' circumplex points, each in [-1, 1], rounded to 4
    decimals; (0, 0) without probabilities. Names not in the table are ignored."""
    known = [(VALENCE_AROUSAL[name], float(p)) for name, p in probabilities.items() if name in VALENCE_AROUSAL]
    total = sum(p for _, p in known)
    if total <= 0:
        return 0.0, 0.0
    valence = sum(p * point[0] for point, p in known)
    arousal = sum(p * point[1] for point, p in known)
    return round(valence / total, 4), round(arousal / total, 4)
