"""Continuous readings of the faces in view: each face's latest ``FaceSignal``, and which are due at a rate.

The worker updates them after every processed frame (under the lock of ``StreamState``); ``Sensor.latest()``
reads them from the host's thread. Rates are in stream time, so a video processed faster than real time
still gets ``signal_hz`` signals per second of video.
"""

from __future__ import annotations

from .._valence_arousal import valence_arousal
from .._events import UNKNOWN, FaceSignal

# Stream-time slack when comparing a frame's time with the next signal's: 1/30 s steps do not add up exactly.
_SLACK_S = 1e-6


class FaceSignals:
    def __init__(self, signal_hz: float) -> None:
        self.period_s = 1.0 / signal_hz if signal_hz > 0 else None  # None: no FaceSignal events, latest() only
        self._latest: dict[int, FaceSignal] = {}
        self._sent_at: dict[int, float] = {}

    def update(self, debouncer, track_ids, faces: set[int], timestamp: float) -> list[FaceSignal]:
        """Refresh the faces of this frame that are in view (``faces``: found, not lost); the signals due."""
        due = []
        for track_id in track_ids:
            smoothed = debouncer.smoothed(track_id) if track_id in faces else None
            if smoothed is None:  # not confirmed yet, or no probabilities yet
                continue
            emotion, confidence = debouncer.current(track_id)
            probabilities = {name: round(float(p), 4) for name, p in zip(debouncer.class_names, smoothed)}
            valence, arousal = valence_arousal(probabilities)
            signal = FaceSignal(track_id, emotion, round(confidence, 4) if emotion != UNKNOWN else 0.0,
                                probabilities, valence, arousal, timestamp)
            self._latest[track_id] = signal
            sent = self._sent_at.get(track_id)
            if self.period_s is not None and (sent is None or timestamp - sent >= self.period_s - _SLACK_S):
                self._sent_at[track_id] = timestamp
                due.append(signal)
        return due

    def latest(self, track_id: int | None) -> FaceSignal | None:
        return None if track_id is None else self._latest.get(track_id)

    def forget(self, track_id: int) -> None:
        self._latest.pop(track_id, None)
        self._sent_at.pop(track_id, None)

    def clear(self) -> None:
        self._latest.clear()
        self._sent_at.clear()
