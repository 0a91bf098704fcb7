"""Faces over time: persistent track ids, a grace period, and a stable primary face.

Detections are matched to tracks greedily by intersection-over-union. A track
is *confirmed* (``FaceFound``) after ``confirm_hits`` matched frames of which
at least one scored ``confirm_score`` or more, so a short or weak false
positive never becomes a face (on the shared animation clip, BlazeFace's false
positives score at most 0.53; real webcam faces 0.87 to 0.97), and it is *lost* (``FaceLost``)
only after ``lost_after_s`` seconds without a match, so a blink of the
detector does not end it. The primary face is the largest confirmed track,
and it stays primary until it is lost (no flapping between two players).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._checks import check_number
from .._events import FaceFound, FaceLost


@dataclass(frozen=True)
class TrackerOptions:
    iou_threshold: float = 0.3
    confirm_hits: int = 3
    confirm_score: float = 0.7
    lost_after_s: float = 0.5

    def __post_init__(self) -> None:
        check_number("TrackerOptions", "iou_threshold", self.iou_threshold, low=0, high=1, low_open=True,
                     high_open=True)
        check_number("TrackerOptions", "confirm_hits", self.confirm_hits, low=1, integer=True)
        check_number("TrackerOptions", "confirm_score", self.confirm_score, low=0, high=1)
        check_number("TrackerOptions", "lost_after_s", self.lost_after_s, low=0)


@dataclass
class Track:
    track_id: int
    box: np.ndarray  # x, y, w, h
    first_seen: float
    last_seen: float
    hits: int = 1
    best_score: float = 1.0
    confirmed: bool = False


@dataclass(frozen=True)
class TrackUpdate:
    """What one frame did to the tracks: ``matches[i]`` is the track id of detection i (or -1)."""

    matches: tuple[int, ...]
    events: tuple[FaceFound | FaceLost, ...]
    lost_ids: tuple[int, ...] = ()


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between boxes ``a`` [N, 4] and ``b`` [M, 4] (x, y, w, h)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-9), 0.0)


@dataclass
class FaceTracker:
    options: TrackerOptions = field(default_factory=TrackerOptions)

    def __post_init__(self) -> None:
        self._tracks: dict[int, Track] = {}
        self._next_id = 1
        self.primary_id: int | None = None

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def update(self, boxes: np.ndarray, timestamp: float, scores: np.ndarray | None = None) -> TrackUpdate:
        """Match this frame's boxes (and detector scores; None counts as fully confident) to the tracks."""
        boxes = np.asarray(boxes).reshape(-1, 4)
        scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, np.float64).reshape(-1)
        if scores.shape != (len(boxes),):
            raise ValueError(f"expected {len(boxes)} scores, one per box, got {scores.shape[0]}")
        ids = list(self._tracks)
        matches = [-1] * len(boxes)
        if ids and len(boxes):
            iou = iou_matrix(boxes, np.stack([self._tracks[i].box for i in ids]))
            while True:
                d, t = np.unravel_index(np.argmax(iou), iou.shape)
                if iou[d, t] < self.options.iou_threshold:
                    break
                matches[d] = ids[t]
                iou[d, :] = -1
                iou[:, t] = -1
        events: list[FaceFound | FaceLost] = []
        newly_confirmed: list[Track] = []
        for d, track_id in enumerate(matches):
            if track_id == -1:
                track = Track(self._next_id, boxes[d].copy(), timestamp, timestamp, best_score=float(scores[d]))
                self._tracks[track.track_id] = track
                matches[d] = track.track_id
                self._next_id += 1
            else:
                track = self._tracks[track_id]
                track.box, track.last_seen = boxes[d].copy(), timestamp
                track.hits += 1
                track.best_score = max(track.best_score, float(scores[d]))
            if (not track.confirmed and track.hits >= self.options.confirm_hits
                    and track.best_score >= self.options.confirm_score):
                track.confirmed = True
                newly_confirmed.append(track)
        lost = []  # first the faces that went, so that a face found on the same frame knows if it is primary
        for track in list(self._tracks.values()):
            if timestamp - track.last_seen > self.options.lost_after_s or (
                    not track.confirmed and track.last_seen < timestamp):
                # Unconfirmed tentative tracks die at their first miss: they were never announced.
                del self._tracks[track.track_id]
                if track.confirmed:
                    lost.append(track.track_id)
                    events.append(FaceLost(track.track_id, timestamp))
        if self.primary_id is not None and self.primary_id not in self._tracks:
            self.primary_id = self._largest_confirmed()
        if self.primary_id is None and newly_confirmed:
            self.primary_id = max(newly_confirmed, key=lambda t: int(t.box[2]) * int(t.box[3])).track_id
        for track in newly_confirmed:
            x, y, w, h = (int(v) for v in track.box)
            events.append(FaceFound(track.track_id, (x, y, w, h), timestamp,
                                    is_primary=track.track_id == self.primary_id))
        return TrackUpdate(tuple(matches), tuple(events), tuple(lost))

    def seen(self, track_ids: tuple[int, ...], timestamp: float) -> None:
        """These tracks' faces are still there at ``timestamp`` without a detection (their crops did not change:
        the pipeline's frames between detector runs), so their grace period counts from now."""
        for track_id in track_ids:
            track = self._tracks.get(track_id)
            if track is not None:
                track.last_seen = max(track.last_seen, timestamp)

    def _largest_confirmed(self) -> int | None:
        confirmed = [t for t in self._tracks.values() if t.confirmed]
        if not confirmed:
            return None
        return max(confirmed, key=lambda t: int(t.box[2]) * int(t.box[3])).track_id

    def close_all(self, timestamp: float) -> list[FaceLost]:
        """End every confirmed track (the stream ended or the camera went off)."""
        events = [FaceLost(t.track_id, timestamp) for t in self._tracks.values() if t.confirmed]
        self.reset()
        return events

    def reset(self) -> None:
        self._tracks.clear()
        self.primary_id = None
