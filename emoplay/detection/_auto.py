"""``DetectorOptions(range="auto")``: which BlazeFace model runs on the next frame of a stream.

The full-range model finds most faces from about 8 % of the frame's longer
side up, the short-range one only from about 15 % (``models/detector_ranges.py``
measures both), at about half the cost. So a stream starts with the full-range model
and keeps it while it finds no face or any face smaller than ``SHORT_FROM``;
once ``HOLD`` full-range detections in a row found only faces of at least
``SHORT_FROM``, it moves to the short-range model. It goes back to full range
at once when the short-range model finds no face or one smaller than
``FULL_BELOW`` (hysteresis: a face near the threshold does not flip the model on
every frame), and every ``LOOK_EVERY``-th detection while on short range is a
full-range one, to see a player who sat down further back (it returns to full
range if that look finds a face smaller than ``SHORT_FROM``).

Sizes are face heights as fractions of the frame's longer side (what the
model's letterboxed input sees). Still images (``video_mode=False``) have no
history: each gets the full-range model.
"""

from __future__ import annotations

import numpy as np

SHORT_FROM = 0.20  # all faces at least this tall (fraction of the longer side) for HOLD detections: short range
FULL_BELOW = 0.15  # on short range, a face shorter than this (or none): back to full range
HOLD = 3
LOOK_EVERY = 10


class RangeChooser:
    """The model for each detection of one stream; :meth:`observe` tells it what the detection found."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.current = "full"
        self._large_streak = 0  # full-range detections in a row that found only faces of SHORT_FROM or more
        self._short_runs = 0  # short-range detections since the last full-range one

    def next_range(self) -> str:
        if self.current == "short" and self._short_runs + 1 >= LOOK_EVERY:
            return "full"
        return self.current

    def observe(self, used: str, heights: np.ndarray) -> None:
        """``heights``: the faces the ``used`` model found, as fractions of the frame's longer side."""
        smallest = float(np.min(heights)) if len(heights) else 0.0
        if used == "full":
            self._short_runs = 0
            self._large_streak = self._large_streak + 1 if smallest >= SHORT_FROM else 0
            self.current = "short" if self._large_streak >= HOLD else "full"
        else:
            self._short_runs += 1
            if smallest < FULL_BELOW:
                self.current, self._large_streak = "full", 0
