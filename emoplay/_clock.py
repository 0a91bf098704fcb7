"""Clocks. Everything time-dependent takes one, so tests and replays are deterministic."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> float:
        """Seconds on a monotonic time line."""


def monotonic_clock() -> float:
    """The default clock: ``time.monotonic()``."""
    return time.monotonic()


class ManualClock:
    """A clock that moves only when told to; for tests and offline replays."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = float(start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back; advance by seconds >= 0")
        self.now += seconds
        return self.now
