"""Which face crops need the emotion model on this frame, and the probabilities the others keep.

The model is the largest cost per frame, and a face seldom changes its expression
between two camera frames. Per track, :class:`CropReuse` remembers what the model
said the last time it ran on that face, and runs it again only when needed:

* a crop that is byte-for-byte the one last classified keeps its probabilities
  (``identical``; results are unchanged);
* with ``every`` N > 1, a track's face is classified again at the latest N frames
  after its last run, or at once when its crop changed noticeably since then: the
  mean absolute difference between 12x12 thumbnails (averages of 4x4-pixel blocks
  of the 48x48 crop, gray levels 0 to 255) is above ``change``. A new face, and a
  track whose face is unknown, is always classified.

What is kept per track between frames: a 16-byte digest of the crop last
classified, its probabilities and (with N > 1) that 12x12 thumbnail, 144 bytes in
memory only, too coarse to show who the player is; all of it goes when the track
ends or the stream is reset, and the thumbnail is zeroed then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

THUMBNAIL = 12  # side of the thumbnail a crop's change is measured on


@dataclass
class _Classified:
    digest: bytes  # of the crop the model last ran on
    probabilities: np.ndarray
    thumbnail: np.ndarray | None  # int16 [THUMBNAIL, THUMBNAIL] of that crop, when ``every`` > 1
    age: int = 0  # frames since the model ran on this track


def thumbnail(crop: np.ndarray) -> np.ndarray:
    """A crop's 12x12 thumbnail (area averages), int16 so that differences do not wrap."""
    import cv2

    return cv2.resize(crop, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA).astype(np.int16)


def crop_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, in gray levels."""
    return float(np.abs(a - b).mean())


class CropReuse:
    def __init__(self, classes: int, every: int = 1, change: float = 0.0, identical: bool = True,
                 watch_changes: bool = False) -> None:
        self.classes, self.every, self.change, self.identical = classes, every, change, identical
        # Thumbnails are kept when the model may be skipped on a changed crop (every > 1) or when the
        # pipeline asks whether a held face changed (watch_changes: the detector skips stable faces).
        self.thumbnails = every > 1 or watch_changes
        self._kept: dict[int, _Classified] = {}
        self.model_runs = 0  # crops the model ran on (for tests and benchmarks)

    @property
    def active(self) -> bool:
        """Whether any probabilities are ever reused (otherwise every crop is classified)."""
        return self.identical or self.thumbnails

    def probabilities(self, crops: np.ndarray, track_ids: tuple[int, ...],
                      run: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Probabilities [N, C] per crop: ``run(crops[needed])`` for the crops that need the model, the
        kept probabilities for the others. Tracks not in ``track_ids`` are forgotten."""
        if not self.active:
            self.model_runs += len(crops)
            return run(crops)
        previous, self._kept = self._kept, {}
        digests = [hashlib.blake2b(crop.tobytes(), digest_size=16).digest() for crop in crops]
        thumbs = [thumbnail(crop) for crop in crops] if self.thumbnails else [None] * len(crops)
        kept = [self._reusable(previous.get(t) if t >= 0 else None, d, th)
                for t, d, th in zip(track_ids, digests, thumbs)]
        needed = [i for i, last in enumerate(kept) if last is None]
        if len(needed) == len(crops):
            probs = run(crops)
        else:
            probs = np.empty((len(crops), self.classes), np.float32)
            for i, last in enumerate(kept):
                if last is not None:
                    probs[i] = last.probabilities
            if needed:
                probs[needed] = run(crops[needed])
        self.model_runs += len(needed)
        for i, track_id in enumerate(track_ids):
            last = kept[i]
            if last is None:
                self._kept[track_id] = _Classified(digests[i], probs[i].copy(), thumbs[i])
            else:
                last.age += not (self.identical and last.digest == digests[i])  # identical: as good as a run
                self._kept[track_id] = last
                if thumbs[i] is not None:
                    thumbs[i].fill(0)
        alive = {id(entry) for entry in self._kept.values()}
        _wipe(entry for entry in previous.values() if id(entry) not in alive)
        return probs

    def changed(self, crops: np.ndarray, track_ids: tuple[int, ...]) -> bool:
        """Whether any tracked face's crop changed by more than ``change`` since the model last ran on it
        (a face that moved out of its box, or a new expression). Crops without a track or a kept
        thumbnail do not count."""
        for crop, track_id in zip(crops, track_ids):
            last = self._kept.get(track_id) if track_id >= 0 else None
            if last is not None and last.thumbnail is not None:
                thumb = thumbnail(crop)
                moved = crop_change(thumb, last.thumbnail) > self.change
                thumb.fill(0)
                if moved:
                    return True
        return False

    def _reusable(self, last: _Classified | None, digest: bytes, thumb: np.ndarray | None) -> _Classified | None:
        """``last`` if its probabilities still hold for this crop, else None (the model must run)."""
        if last is None:
            return None
        if self.identical and last.digest == digest:
            return last
        if self.every <= 1 or last.age + 1 >= self.every:
            return None
        return last if crop_change(thumb, last.thumbnail) <= self.change else None

    def clear(self) -> None:
        """Forget every track (a new stream)."""
        _wipe(self._kept.values())
        self._kept = {}


def _wipe(forgotten) -> None:
    """Zero the thumbnails of forgotten tracks (like the crops, they are not left behind in freed memory)."""
    for entry in forgotten:
        if entry.thumbnail is not None:
            entry.thumbnail.fill(0)
