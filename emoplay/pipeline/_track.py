"""Faces over time: persistent track ids, a grace period, and a stable primary face.

Detections are matched to tracks greedily by intersection-over-union with where each track is expected
now: its last box moved on by its velocity (a running mean of its centre's motion), for at most
``lost_after_s``. So two faces that cross keep their ids, even when one hides the other for a few frames,
and a small face (a player far from the camera) that moves more than its width between detections is
still matched when its predicted box overlaps. A track
is *confirmed* (``FaceFound``) after ``confirm_hits`` matched frames of which
at least one scored ``confirm_score`` or more, so a short or weak false
positive never becomes a face (on the shared animation clip, BlazeFace's false
positives score at most 0.53; real webcam faces 0.87 to 0.97), and it is *lost* (``FaceLost``)
only after ``lost_after_s`` seconds without a match, so a blink of the
detector does not end it.

The primary face is the confirmed track that most looks like the player: the largest and most frontal
(box area times a frontality between 0.3 and 1 from the keypoints: how far the nose tip sits from the
middle of the eyes, in eye distances). It stays primary until it is lost, or until another confirmed
face has scored at least ``primary_switch_ratio`` times as much for ``primary_switch_s`` seconds
without a break (hysteresis: on a couch, someone leaning in for a moment or a player turning to a
neighbour does not take the game over; a player who moves to the front, or the one who sat down nearer
the camera, does).
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
    primary_switch_ratio: float = 2.0  # another face must score this many times the primary's (area x frontality)
    primary_switch_s: float = 2.0  # ... for this long without a break to become primary

    def __post_init__(self) -> None:
        check_number("TrackerOptions", "primary_switch_ratio", self.primary_switch_ratio, low=1)
        check_number("TrackerOptions", "primary_switch_s", self.primary_switch_s, low=0)
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
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # of the box's centre, pixels per second
    frontality: float = 1.0  # 0.3 (turned) to 1 (facing the camera), from the last detection's keypoints

    def predicted(self, timestamp: float, horizon: float) -> np.ndarray:
        """Where the box is expected at ``timestamp``: moved on by the velocity for at most ``horizon`` seconds."""
        box = np.asarray(self.box, np.float64).copy()
        box[:2] += self.velocity * min(max(timestamp - self.last_seen, 0.0), horizon)
        return box

    def observe(self, box: np.ndarray, timestamp: float) -> None:
        """A new detection: the velocity follows the centre's motion since the last one (a running mean)."""
        elapsed = timestamp - self.last_seen
        if elapsed > 0:
            moved = (box[:2] + box[2:] / 2) - (self.box[:2] + self.box[2:] / 2)
            self.velocity = 0.5 * self.velocity + 0.5 * moved / elapsed
        self.box, self.last_seen = box.copy(), timestamp

    @property
    def weight(self) -> float:
        """How much this face looks like the player: box area times frontality."""
        return float(self.box[2]) * float(self.box[3]) * self.frontality


@dataclass(frozen=True)
class TrackUpdate:
    """What one frame did to the tracks: ``matches[i]`` is the track id of detection i.

    Confirmed faces are numbered 1, 2, 3... in the order they were confirmed; a tentative track (a
    detection not confirmed yet, which may never be) has a negative id below -1 until then, so a
    false detection early in a stream costs no face number."""

    matches: tuple[int, ...]
    events: tuple[FaceFound | FaceLost, ...]
    lost_ids: tuple[int, ...] = ()
    renamed: tuple[tuple[int, int], ...] = ()  # (tentative id, face number) of the tracks confirmed now


def frontality(keypoints: np.ndarray) -> np.ndarray:
    """Per face, 1 when the nose tip is midway between the eyes, down to 0.3 as the head turns.

    ``keypoints`` [N, 6, 2]: right eye, left eye, nose tip, ... (BlazeFace's order). The nose tip's offset from
    the eyes' midpoint along the line of the eyes, in eye distances, is about 0 facing the camera and 0.5 or
    more at a three-quarter turn.
    """
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, 6, 2)
    eyes = keypoints[:, 1] - keypoints[:, 0]
    nose = keypoints[:, 2] - (keypoints[:, 0] + keypoints[:, 1]) / 2
    offset = np.abs(np.sum(nose * eyes, axis=1)) / np.maximum(np.sum(eyes * eyes, axis=1), 1e-12)
    return np.clip(1.0 - offset, 0.3, 1.0)


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
        self._next_id = 1  # the next confirmed face's number
        self._next_tentative = -2  # tentative tracks count down from here (-1 is no one's)
        self.primary_id: int | None = None
        self._challenger: tuple[int, float] | None = None  # (track id, since when) outscoring the primary

    @property
    def tracks(self) -> list[Track]:
        return list(self._tracks.values())

    def update(self, boxes: np.ndarray, timestamp: float, scores: np.ndarray | None = None,
               keypoints: np.ndarray | None = None) -> TrackUpdate:
        """Match this frame's boxes (and detector scores, None counting as fully confident; and keypoints
        [N, 6, 2], None counting as frontal faces) to the tracks."""
        boxes = np.asarray(boxes).reshape(-1, 4)
        scores = np.ones(len(boxes)) if scores is None else np.asarray(scores, np.float64).reshape(-1)
        if scores.shape != (len(boxes),):
            raise ValueError(f"expected {len(boxes)} scores, one per box, got {scores.shape[0]}")
        front = np.ones(len(boxes)) if keypoints is None else frontality(keypoints)
        if front.shape != (len(boxes),):
            raise ValueError(f"expected {len(boxes)} sets of keypoints, one per box, got {front.shape[0]}")
        ids = list(self._tracks)
        matches = [-1] * len(boxes)
        if ids and len(boxes):
            expected = np.stack([self._tracks[i].predicted(timestamp, self.options.lost_after_s) for i in ids])
            affinity = self._affinity(boxes.astype(np.float64), expected)
            while True:
                d, t = np.unravel_index(np.argmax(affinity), affinity.shape)
                if affinity[d, t] <= 0:
                    break
                matches[d] = ids[t]
                affinity[d, :] = 0
                affinity[:, t] = 0
        events: list[FaceFound | FaceLost] = []
        newly_confirmed: list[Track] = []
        renamed: list[tuple[int, int]] = []
        for d, track_id in enumerate(matches):
            if track_id == -1:
                track = Track(self._next_tentative, boxes[d].astype(np.float64), timestamp, timestamp,
                              best_score=float(scores[d]))
                self._tracks[track.track_id] = track
                matches[d] = track.track_id
                self._next_tentative -= 1
            else:
                track = self._tracks[track_id]
                track.observe(boxes[d].astype(np.float64), timestamp)
                track.hits += 1
                track.best_score = max(track.best_score, float(scores[d]))
            track.frontality = float(front[d])
            if (not track.confirmed and track.hits >= self.options.confirm_hits
                    and track.best_score >= self.options.confirm_score):
                track.confirmed = True
                del self._tracks[track.track_id]
                renamed.append((track.track_id, self._next_id))
                track.track_id, self._next_id = self._next_id, self._next_id + 1
                self._tracks[track.track_id] = track
                matches[d] = track.track_id
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
            self.primary_id, self._challenger = self._best_confirmed(), None
        if self.primary_id is None and newly_confirmed:
            self.primary_id = max(newly_confirmed, key=lambda t: t.weight).track_id
        self._challenge(timestamp)
        for track in newly_confirmed:
            x, y, w, h = (int(v) for v in track.box)
            events.append(FaceFound(track.track_id, (x, y, w, h), timestamp,
                                    is_primary=track.track_id == self.primary_id))
        return TrackUpdate(tuple(matches), tuple(events), tuple(lost), tuple(renamed))

    def _affinity(self, boxes: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """Detections [N] x tracks [M], 0 where they cannot match. 1 + IoU with the track's expected box where
        the IoU reaches ``iou_threshold``; else, for a box of a like size (areas within 2.25x) whose centre is
        within one box side of the expected one, 1 - that distance in box sides (below every IoU match): a
        fast small face, whose boxes on consecutive detections barely overlap, is still followed."""
        iou = iou_matrix(boxes, expected)
        area_a, area_b = boxes[:, 2] * boxes[:, 3], expected[:, 2] * expected[:, 3]
        side = np.sqrt(np.sqrt(area_a[:, None] * area_b[None, :]))  # geometric mean of the two sides
        offset = (boxes[:, None, :2] + boxes[:, None, 2:] / 2) - (expected[None, :, :2] + expected[None, :, 2:] / 2)
        distance = np.hypot(offset[..., 0], offset[..., 1]) / np.maximum(side, 1e-9)
        ratio = area_a[:, None] / np.maximum(area_b[None, :], 1e-9)
        near = (distance < 1.0) & (ratio > 1 / 2.25) & (ratio < 2.25)
        return np.where(iou >= self.options.iou_threshold, 1.0 + iou, np.where(near, 1.0 - distance, 0.0))

    def seen(self, track_ids: tuple[int, ...], timestamp: float) -> None:
        """These tracks' faces are still there at ``timestamp`` without a detection (their crops did not change:
        the pipeline's frames between detector runs), so their grace period counts from now."""
        for track_id in track_ids:
            track = self._tracks.get(track_id)
            if track is not None:
                track.last_seen = max(track.last_seen, timestamp)

    def _best_confirmed(self) -> int | None:
        confirmed = [t for t in self._tracks.values() if t.confirmed]
        if not confirmed:
            return None
        return max(confirmed, key=lambda t: t.weight).track_id

    def _challenge(self, timestamp: float) -> None:
        """Another confirmed face that has outscored the primary by ``primary_switch_ratio`` for
        ``primary_switch_s`` seconds without a break becomes primary."""
        if self.primary_id is None:
            self._challenger = None
            return
        primary = self._tracks[self.primary_id]
        rivals = [t for t in self._tracks.values() if t.confirmed and t.track_id != self.primary_id]
        best = max(rivals, key=lambda t: t.weight, default=None)
        if best is None or best.weight < self.options.primary_switch_ratio * primary.weight:
            self._challenger = None
            return
        if self._challenger is None or self._challenger[0] != best.track_id:
            self._challenger = (best.track_id, timestamp)
        if timestamp - self._challenger[1] >= self.options.primary_switch_s:
            self.primary_id, self._challenger = best.track_id, None

    def close_all(self, timestamp: float) -> list[FaceLost]:
        """End every confirmed track (the stream ended or the camera went off)."""
        events = [FaceLost(t.track_id, timestamp) for t in self._tracks.values() if t.confirmed]
        self.reset()
        return events

    def reset(self) -> None:
        self._tracks.clear()
        self.primary_id = None
        self._challenger = None
