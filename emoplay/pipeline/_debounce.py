"""Per-face smoothing and debouncing: from noisy per-frame probabilities to rare, real changes.

Each track keeps an exponential moving average of its class probabilities
with time constant ``smoothing_s`` (so the result does not depend on frame
rate). A new emotion is accepted only when

* its smoothed probability is at least ``confidence_floor`` (otherwise the
  candidate state is ``unknown``: no guess),
* it leads the current emotion by ``margin`` (hysteresis: two close classes
  do not flip back and forth) — unless the current emotion itself fell below
  ``confidence_floor``: the floor holds for the current emotion too, so no
  emotion is kept (or reported) below it, and
* both hold without interruption for ``dwell_s`` seconds.

With the defaults a clean, sustained change (one class near 0.8 replaced by
another) overtakes after ~0.1 s of smoothing and fires after the 0.15 s
dwell: about 0.25 s, within the 0.3 s target at 30 fps. A steady face whose
per-frame prediction flickers for a frame or two produces no event, because
a flicker moves the average by at most ~30 % and never lasts the dwell.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_number
from .._clock import Clock, monotonic_clock
from .._events import UNKNOWN, EmotionChanged


@dataclass(frozen=True)
class DebounceOptions:
    smoothing_s: float = 0.1  # EMA time constant, seconds
    margin: float = 0.1  # a challenger must lead the current emotion by this much
    dwell_s: float = 0.15  # ... continuously for this long
    confidence_floor: float = 0.35  # below this the state is "unknown"

    def __post_init__(self) -> None:
        check_number("DebounceOptions", "smoothing_s", self.smoothing_s, low=0)
        check_number("DebounceOptions", "dwell_s", self.dwell_s, low=0)
        check_number("DebounceOptions", "margin", self.margin, low=0, high=1, high_open=True)
        check_number("DebounceOptions", "confidence_floor", self.confidence_floor, low=0, high=1, high_open=True)


@dataclass
class _TrackState:
    smoothed: np.ndarray
    updated_at: float
    current: str = UNKNOWN
    pending: str | None = None
    pending_since: float = 0.0


@dataclass
class Debouncer:
    """Debounces every track's emotion. ``update`` returns the ``EmotionChanged`` events it decided."""

    class_names: tuple[str, ...]
    options: DebounceOptions = field(default_factory=DebounceOptions)
    clock: Clock = monotonic_clock

    def __post_init__(self) -> None:
        self._tracks: dict[int, _TrackState] = {}

    def update(self, track_id: int, probabilities: np.ndarray, timestamp: float | None = None) -> EmotionChanged | None:
        now = self.clock() if timestamp is None else timestamp
        if not math.isfinite(now):
            raise ValueError(f"timestamp must be a finite number of seconds, got {now!r}; the frame was ignored")
        probs = np.asarray(probabilities, np.float64)
        if probs.shape != (len(self.class_names),):
            raise ValueError(f"expected {len(self.class_names)} probabilities, got shape {probs.shape}")
        if not np.all(np.isfinite(probs)):
            raise ValueError("probabilities must be finite numbers (got NaN or inf); the frame was ignored")
        state = self._tracks.get(track_id)
        if state is None:
            state = self._tracks[track_id] = _TrackState(smoothed=probs.copy(), updated_at=now)
        else:
            dt = max(now - state.updated_at, 0.0)
            alpha = 1.0 if self.options.smoothing_s == 0 else 1.0 - math.exp(-dt / self.options.smoothing_s)
            state.smoothed += alpha * (probs - state.smoothed)
            state.updated_at = now
        candidate = self._candidate(state)
        if candidate == state.current:
            state.pending = None
            return None
        if candidate != state.pending:
            # A new challenger restarts the dwell, unless the current emotion fell below the floor: then the
            # dwell runs from its fall, however the candidate flickers (unknown, a rival at the floor), so that
            # an emotion is never kept below the floor for longer than the dwell.
            if state.pending is None or not self._below_floor(state):
                state.pending_since = now
            state.pending = candidate
        if now - state.pending_since < self.options.dwell_s:
            return None
        previous, state.current, state.pending = state.current, candidate, None
        confidence = 0.0 if candidate == UNKNOWN else float(state.smoothed[self.class_names.index(candidate)])
        return EmotionChanged(
            track_id=track_id, previous=previous, current=candidate, confidence=confidence,
            probabilities=dict(zip(self.class_names, (float(p) for p in state.smoothed))), timestamp=now,
        )

    def _candidate(self, state: _TrackState) -> str:
        top = int(np.argmax(state.smoothed))
        top_p = float(state.smoothed[top])
        if top_p < self.options.confidence_floor:
            return UNKNOWN
        name = self.class_names[top]
        if state.current not in (UNKNOWN, name):
            current_p = float(state.smoothed[self.class_names.index(state.current)])
            # Hysteresis keeps the current emotion against a close rival, but never below the floor.
            if top_p - current_p < self.options.margin and current_p >= self.options.confidence_floor:
                return state.current
        return name

    def _below_floor(self, state: _TrackState) -> bool:
        return state.current != UNKNOWN and \
            float(state.smoothed[self.class_names.index(state.current)]) < self.options.confidence_floor

    def current(self, track_id: int) -> tuple[str, float] | None:
        state = self._tracks.get(track_id)
        if state is None:
            return None
        if state.current == UNKNOWN:
            return UNKNOWN, 0.0
        return state.current, float(state.smoothed[self.class_names.index(state.current)])

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)

    def reset(self) -> None:
        self._tracks.clear()
