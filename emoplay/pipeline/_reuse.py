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
  track whose face is unknown, is always classified;
* with a classifier that runs the mirror view itself (``views``), a run on a
  known face is one view, the face or its mirror image in turn, combined with the
  other view's last result while the crop stayed within ``change`` of the crop that
  view saw; a new face gets both views at once, and a face whose last run had to
  stand alone (it had changed) gets the other view on the next frame.

What is kept per track between frames: a 16-byte digest of the crop last
classified, its probabilities, the last probabilities of each view, and (with N >
1, or views) the 12x12 thumbnails of the crops they came from, 144 bytes each, in
memory only, too coarse to show who the player is; all of it goes when the track
ends or the stream is reset, and the thumbnails are zeroed then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

NO_TRACK = -1  # a crop that belongs to no track (tentative tracks have ids below it)
THUMBNAIL = 12  # side of the thumbnail a crop's change is measured on


class ViewClassifier(Protocol):
    """What alternating views need of the classifier (EmotionClassifier with a runtime mirror view)."""

    def classify_views(self, faces: np.ndarray, mirrored: np.ndarray, raw: bool = False) -> np.ndarray: ...

    def combine_views(self, views: list[np.ndarray]) -> np.ndarray: ...


@dataclass
class _Classified:
    digest: bytes  # of the crop the model last ran on
    probabilities: np.ndarray
    thumbnail: np.ndarray | None  # uint8 [THUMBNAIL, THUMBNAIL] of that crop, when ``every`` > 1
    age: int = 0  # frames since the model ran on this track
    view: int = 0  # with alternating views: the view the model ran last (0 the face, 1 its mirror image)
    views: dict = field(default_factory=dict)  # view -> (its probabilities, the thumbnail of its crop)


def thumbnail(crop: np.ndarray) -> np.ndarray:
    """A crop's 12x12 thumbnail (area averages), uint8."""
    import cv2

    return cv2.resize(crop, (THUMBNAIL, THUMBNAIL), interpolation=cv2.INTER_AREA)


def crop_change(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two thumbnails, in gray levels. One OpenCV call: the sum of absolute
    differences (exact, without uint8 wrap-around) over the pixel count; several numpy calls on so small an
    array cost more than the arithmetic."""
    import cv2

    return cv2.norm(a, b, cv2.NORM_L1) / a.size


class CropReuse:
    def __init__(self, classes: int, every: int = 1, change: float = 0.0, identical: bool = True,
                 watch_changes: bool = False) -> None:
        self.classes, self.every, self.change, self.identical = classes, every, change, identical
        # Thumbnails are kept when the model may be skipped on a changed crop (every > 1) or when the
        # pipeline asks whether a held face changed (watch_changes: the detector skips stable faces, or
        # two views of a face are averaged only while it did not change).
        self.thumbnails = every > 1 or watch_changes
        self._kept: dict[int, _Classified] = {}
        self.model_runs = 0  # crops the model ran on (for tests and benchmarks)

    @property
    def active(self) -> bool:
        """Whether any probabilities are ever reused (otherwise every crop is classified)."""
        return self.identical or self.thumbnails

    def probabilities(self, crops: np.ndarray, track_ids: tuple[int, ...],
                      run: Callable[[np.ndarray], np.ndarray],
                      views: "ViewClassifier | None" = None,
                      thumbs: list[np.ndarray | None] | None = None) -> np.ndarray:
        """Probabilities [N, C] per crop: ``run(crops[needed])`` for the crops that need the model, the
        kept probabilities for the others. Tracks not in ``track_ids`` are forgotten.

        ``views`` (a classifier that runs the mirror view itself: EmotionClassifier.classify_views): a
        tracked face is refreshed with one view at a time, alternating between the face and its mirror
        image, and its probabilities are those of the two latest views (combine_views) while its crop did not
        change by more than ``change`` between them; otherwise the new view alone, and the other view follows
        on the next frame. A new track gets both views at once. ``thumbs``: ``thumbnails_of(crops)`` if the
        caller already made them (for ``changed``); they are kept or zeroed here like those made here."""
        if not self.active:
            self.model_runs += len(crops)
            return run(crops)
        previous, self._kept = self._kept, {}
        digests = [hashlib.blake2b(crop.tobytes(), digest_size=16).digest() for crop in crops]
        thumbs = self.thumbnails_of(crops) if thumbs is None else thumbs
        last_of = [previous.get(t) if t != NO_TRACK else None for t in track_ids]
        # With alternating views, a face whose last run had one view (it had changed) gets the other view on
        # the next frame, however it looks then: two views of it are as good as the two-view model's.
        kept = [None if views is not None and last is not None and len(last.views) < 2
                else self._reusable(last, d, th) for last, d, th in zip(last_of, digests, thumbs)]
        needed = [i for i, last in enumerate(kept) if last is None]
        probs = np.empty((len(crops), self.classes), np.float32)
        for i, last in enumerate(kept):
            if last is not None:
                probs[i] = last.probabilities
        fresh: dict[int, _Classified] = {}
        if needed and views is not None:
            fresh = self._run_views(crops, needed, [last_of[i] for i in needed], digests, thumbs, views)
            for i, entry in fresh.items():
                probs[i] = entry.probabilities
        elif needed:
            if len(needed) == len(crops):
                probs[:] = run(crops)
            else:
                batch = crops[needed]
                try:
                    probs[needed] = run(batch)
                finally:
                    batch.fill(0)  # a copy of the crops: it lives for this step only, like them
            fresh = {i: _Classified(digests[i], probs[i].copy(), thumbs[i]) for i in needed}
        self.model_runs += len(needed)
        for i, track_id in enumerate(track_ids):
            last = kept[i]
            if last is None:
                self._kept[track_id] = fresh[i]
            else:
                last.age += not (self.identical and last.digest == digests[i])  # identical: as good as a run
                self._kept[track_id] = last
                if thumbs[i] is not None:
                    thumbs[i].fill(0)
        _wipe(previous.values(), keep=self._kept.values())
        return probs

    def _run_views(self, crops: np.ndarray, needed: list[int], last_of: list[_Classified | None],
                   digests: list[bytes], thumbs: list[np.ndarray | None],
                   classifier: "ViewClassifier") -> dict[int, _Classified]:
        """One model call for the crops that need it: one view for a known track (the one its last run did
        not use), both for a new one. The new entries, by crop index."""
        rows: list[tuple[int, int]] = []  # (crop index, view) per batch row
        for i, last in zip(needed, last_of):
            rows += [(i, 1 - last.view)] if last is not None else [(i, 0), (i, 1)]
        batch = crops[np.array([i for i, _ in rows])]
        try:
            out = classifier.classify_views(batch, np.array([view for _, view in rows], bool), raw=True)
        finally:
            batch.fill(0)  # a copy of the crops: it lives for this step only, like them
        fresh: dict[int, _Classified] = {}
        for i, last in zip(needed, last_of):
            own = {view: (out[k].copy(), thumbs[i]) for k, (j, view) in enumerate(rows) if j == i}
            latest = max(own) if last is None else 1 - last.view
            if last is not None:
                held = last.views.get(last.view)
                if held is not None and thumbs[i] is not None and held[1] is not None \
                        and crop_change(thumbs[i], held[1]) <= self.change:
                    own[last.view] = held  # the same face a few frames ago: average with it
            probs = classifier.combine_views([own[v][0][None] for v in sorted(own)])[0]
            fresh[i] = _Classified(digests[i], probs, thumbs[i], view=latest, views=own)
        return fresh

    def thumbnails_of(self, crops: np.ndarray) -> list[np.ndarray | None]:
        """The crops' thumbnails (None each when no thumbnails are kept), for ``changed`` and then
        ``probabilities`` on the same crops, or for ``discard``."""
        return [thumbnail(crop) for crop in crops] if self.thumbnails else [None] * len(crops)

    def changed(self, thumbs: list[np.ndarray | None], track_ids: tuple[int, ...]) -> bool:
        """Whether any tracked face's crop (its thumbnail from ``thumbnails_of``) changed by more than
        ``change`` since the model last ran on it (a face that moved out of its box, or a new expression).
        Crops without a track or a kept thumbnail do not count."""
        for thumb, track_id in zip(thumbs, track_ids):
            last = self._kept.get(track_id) if track_id != NO_TRACK else None
            if thumb is not None and last is not None and last.thumbnail is not None \
                    and crop_change(thumb, last.thumbnail) > self.change:
                return True
        return False

    def rename(self, old: int, new: int) -> None:
        """The track ``old`` is called ``new`` from now on (a tentative track was confirmed)."""
        if old in self._kept:
            self._kept[new] = self._kept.pop(old)

    @staticmethod
    def discard(thumbs: list[np.ndarray | None]) -> None:
        """Zero thumbnails that will not be used (their crops were cut from boxes found stale)."""
        for thumb in thumbs:
            if thumb is not None:
                thumb.fill(0)

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


def _thumbnails_of(entry: _Classified):
    if entry.thumbnail is not None:
        yield entry.thumbnail
    for _, thumb in entry.views.values():
        if thumb is not None:
            yield thumb


def _wipe(forgotten, keep=()) -> None:
    """Zero the thumbnails of forgotten tracks (like the crops, they are not left behind in freed memory),
    except those an entry in ``keep`` still holds (a view carried over to a track's new entry)."""
    kept = {id(thumb) for entry in keep for thumb in _thumbnails_of(entry)}
    for entry in forgotten:
        for thumb in _thumbnails_of(entry):
            if id(thumb) not in kept:
                thumb.fill(0)
