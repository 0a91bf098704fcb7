"""Probability vectors, and a debouncer fed them frame by frame on explicit timestamps."""

from __future__ import annotations

import numpy as np

from emoplay import EMOTIONS, EmotionChanged
from emoplay.pipeline import Debouncer


def probs(**named: float) -> np.ndarray:
    """A probability vector over EMOTIONS: the named classes as given, the rest share what is left equally."""
    vec = np.zeros(len(EMOTIONS))
    for name, p in named.items():
        vec[EMOTIONS.index(name)] = p
    rest = [i for i, name in enumerate(EMOTIONS) if name not in named]
    vec[rest] = (1.0 - sum(named.values())) / len(rest)
    return vec


FPS = 30.0


def feed(debouncer: Debouncer, vectors, start: float = 0.0, fps: float = FPS, track_id: int = 1) -> list[EmotionChanged]:
    """Feed one vector per frame at ``start + i / fps``; return the events."""
    events = []
    for i, vec in enumerate(vectors):
        event = debouncer.update(track_id, vec, start + i / fps)
        if event is not None:
            events.append(event)
    return events


def steady(vec: np.ndarray, seconds: float, fps: float = FPS) -> list[np.ndarray]:
    return [vec] * int(round(seconds * fps))


HAPPY = probs(happy=0.8)
NEUTRAL = probs(neutral=0.8)
