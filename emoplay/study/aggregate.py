"""From per-frame records to the numbers a study reports.

* :func:`frame_rows`: the long table, one row per participant × stimulus × frame.
* :func:`timelines`: per stimulus, group and emotion, the mean ± SEM across participants of each
  participant's mean probability in each time bin (media time), and how many participants had a face there.
* :func:`shares`: per stimulus, group and second, the share of participants whose dominant emotion
  (highest mean probability over their face frames in that second) was each emotion.
* :func:`dominant_grid`: per stimulus, each participant's dominant emotion per bin (for the heatmap).
* :func:`summary`: per stimulus and group, mean probabilities and the peak non-neutral emotion.

Frames without a face carry no probabilities and are left out of every mean; a participant counts in a bin
only if they had a face in it. Valence and arousal are a coarse linear projection of the 7 probabilities onto
Russell's circumplex, the bridge's table (``emoplay._valence_arousal``) — a summary, not a measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._valence_arousal import valence_arousal
from .._events import EMOTIONS
from .logs import ParticipantLog
from .recording import BASELINE, is_segment
from .spec import POOLED_GROUP as ALL  # the group name that pools every participant

COLUMNS = ("participant", "group", "stimulus", "stimulus_title", "position", "media_time_s", "face_found",
           *(f"p_{e}" for e in EMOTIONS), "valence", "arousal")


def frame_rows(participants: list[ParticipantLog]) -> list[dict]:
    """The long table, in log order per participant."""
    rows = []
    for p in participants:
        shown = p.stimuli_shown()
        for r in p.frames():
            data = r.data
            stimulus = data["stimulus"]
            info = shown.get(stimulus, {"title": stimulus, "position": -1})
            row = {"participant": p.label, "group": p.group, "stimulus": stimulus, "stimulus_title": info["title"],
                   "position": info["position"], "media_time_s": data["media_time"], "face_found": data["face"]}
            probs = r.probabilities
            for e in EMOTIONS:
                row[f"p_{e}"] = probs[e] if probs else None
            row["valence"], row["arousal"] = valence_arousal(probs) if probs else (None, None)
            rows.append(row)
    return rows


def stimulus_order(rows: list[dict]) -> list[str]:
    """Stimulus ids in order of first appearance, the calibration baseline last (pre-stimulus segments: none)."""
    seen = list(dict.fromkeys(r["stimulus"] for r in rows))
    return [s for s in seen if not is_segment(s)] + ([BASELINE] if BASELINE in seen else [])


def _bin_means(rows: list[dict], width: float, n_bins: int) -> dict[str, np.ndarray]:
    """Per participant: [n_bins, 7] mean probabilities over their face frames in each bin (NaN: no face)."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for r in rows:
        key = r["participant"]
        if key not in sums:
            sums[key], counts[key] = np.zeros((n_bins, len(EMOTIONS))), np.zeros(n_bins)
        if not r["face_found"]:
            continue
        b = min(int(r["media_time_s"] // width), n_bins - 1)
        sums[key][b] += [r[f"p_{e}"] for e in EMOTIONS]
        counts[key][b] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return {k: sums[k] / counts[k][:, None] for k in sums}


def _n_bins(rows: list[dict], width: float, duration: float | None) -> int:
    end = max([duration or 0.0] + [r["media_time_s"] for r in rows])
    return max(1, math.ceil(end / width - 1e-9))


@dataclass(frozen=True)
class Timeline:
    stimulus: str
    group: str
    bin_width: float
    bin_start: np.ndarray  # [B]
    mean: np.ndarray  # [B, 7]
    sem: np.ndarray  # [B, 7]; NaN where fewer than 2 participants
    n: np.ndarray  # [B] participants with a face in the bin


def _groups(rows: list[dict]) -> list[str]:
    groups = list(dict.fromkeys(r["group"] for r in rows))
    return [ALL] + groups if len(groups) > 1 else groups


def _of_group(rows: list[dict], group: str) -> list[dict]:
    return rows if group == ALL else [r for r in rows if r["group"] == group]


def timelines(rows: list[dict], stimulus: str, width: float, duration: float | None = None) -> list[Timeline]:
    rows = [r for r in rows if r["stimulus"] == stimulus]
    n_bins = _n_bins(rows, width, duration)
    out = []
    for group in _groups(rows):
        means = list(_bin_means(_of_group(rows, group), width, n_bins).values())
        stack = np.stack(means) if means else np.full((0, n_bins, len(EMOTIONS)), np.nan)
        n = np.sum(~np.isnan(stack[:, :, 0]), axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.nansum(stack, axis=0) / n[:, None]
            centred = np.where(np.isnan(stack), 0.0, stack - mean[None])
            sd = np.sqrt(np.sum(centred ** 2, axis=0) / (n[:, None] - 1))
            sem = np.where(n[:, None] >= 2, sd / np.sqrt(n[:, None]), np.nan)
        mean[n == 0] = np.nan
        out.append(Timeline(stimulus, group, width, np.arange(n_bins) * width, mean, sem, n))
    return out


@dataclass(frozen=True)
class Shares:
    stimulus: str
    group: str
    second: np.ndarray  # [S] start of each second
    share: np.ndarray  # [S, 7] fraction of the participants with a face in that second
    n: np.ndarray  # [S]


def shares(rows: list[dict], stimulus: str, duration: float | None = None) -> list[Shares]:
    rows = [r for r in rows if r["stimulus"] == stimulus]
    n_seconds = _n_bins(rows, 1.0, duration)
    out = []
    for group in _groups(rows):
        means = list(_bin_means(_of_group(rows, group), 1.0, n_seconds).values())
        counts = np.zeros((n_seconds, len(EMOTIONS)))
        for m in means:
            has = ~np.isnan(m[:, 0])
            counts[np.flatnonzero(has), np.argmax(m[has], axis=1)] += 1
        n = counts.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(n[:, None] > 0, counts / n[:, None], np.nan)
        out.append(Shares(stimulus, group, np.arange(n_seconds, dtype=float), share, n))
    return out


@dataclass(frozen=True)
class DominantGrid:
    stimulus: str
    bin_width: float
    labels: list[str]  # "P01 (group)" per row, sorted by group then participant
    groups: list[str]
    grid: np.ndarray  # [P, B] emotion index, -1 where no face


def dominant_grid(rows: list[dict], stimulus: str, width: float, duration: float | None = None) -> DominantGrid:
    rows = [r for r in rows if r["stimulus"] == stimulus]
    n_bins = _n_bins(rows, width, duration)
    means = _bin_means(rows, width, n_bins)
    group_of = {r["participant"]: r["group"] for r in rows}
    order = sorted(means, key=lambda p: (group_of[p], p))
    grid = np.full((len(order), n_bins), -1, dtype=int)
    for i, p in enumerate(order):
        has = ~np.isnan(means[p][:, 0])
        grid[i, has] = np.argmax(means[p][has], axis=1)
    return DominantGrid(stimulus, width, [f"{p} ({group_of[p]})" for p in order], [group_of[p] for p in order], grid)


def summary(rows: list[dict], width: float, durations: dict[str, float]) -> list[dict]:
    """Per stimulus and group: participants, face share, mean probabilities, peak non-neutral emotion."""
    out = []
    for stimulus in stimulus_order(rows):
        these = [r for r in rows if r["stimulus"] == stimulus]
        lines = {t.group: t for t in timelines(these, stimulus, width, durations.get(stimulus))}
        for group in _groups(these):
            mine = _of_group(these, group)
            face_rows: dict[str, list] = {r["participant"]: [] for r in mine}
            for r in mine:
                if r["face_found"]:
                    face_rows[r["participant"]].append([r[f"p_{e}"] for e in EMOTIONS])
            per_participant = [np.mean(face, axis=0) for face in face_rows.values() if face]
            row = {"stimulus": stimulus, "stimulus_title": these[0]["stimulus_title"], "group": group,
                   "participants": len(face_rows),
                   "participants_with_face": len(per_participant), "frames": len(mine),
                   "face_found_share": round(sum(r["face_found"] for r in mine) / len(mine), 4)}
            means = np.mean(per_participant, axis=0) if per_participant else np.full(len(EMOTIONS), np.nan)
            for e, v in zip(EMOTIONS, means):
                row[f"mean_p_{e}"] = None if np.isnan(v) else round(float(v), 4)
            line = lines[group]
            candidates = [i for i, e in enumerate(EMOTIONS) if e != "neutral"]
            block = line.mean[:, candidates]
            if np.all(np.isnan(block)):
                row.update(peak_emotion=None, peak_time_s=None, peak_mean_p=None)
            else:
                b, j = np.unravel_index(np.nanargmax(block), block.shape)
                row.update(peak_emotion=EMOTIONS[candidates[j]], peak_time_s=round(float(line.bin_start[b] + width / 2), 3),
                           peak_mean_p=round(float(block[b, j]), 4))
            out.append(row)
    return out
