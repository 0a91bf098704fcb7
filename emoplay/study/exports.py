"""Exports other tools read: a BIDS-style folder, and the long table under py-feat's column names.

``bids/`` (``--format bids``)::

    dataset_description.json
    participants.tsv, participants.json                  pseudonyms and groups only
    sub-P01/beh/sub-P01_task-STUDY_events.tsv (+ .json)  onset, duration, trial_type per stimulus, segment, pause
    sub-P01/beh/sub-P01_task-STUDY_physio.tsv.gz (+ .json) the probabilities resampled to a regular rate

Times in both files of a participant count from the start of their session (the log's ``StudyStarted``
record): ``onset`` in the events, ``StartTime`` (the time of the first sample) in the physio sidecar. A
physio sample is the mean over the face frames captured in its interval ``[t, t + 1/SamplingFrequency)``;
``face_found`` is the share of that interval's frames with a face; ``n/a`` where no frame was captured (rest
screens without recording, pauses) or no face was found.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
from pathlib import Path

import numpy as np

from .._events import EMOTIONS
from .logs import ParticipantLog
from .recording import BASELINE, PRE_STIMULUS

BIDS_VERSION = "1.9.0"
PYFEAT_NAMES = {"angry": "anger", "disgust": "disgust", "fear": "fear", "happy": "happiness", "sad": "sadness",
                "surprise": "surprise", "neutral": "neutral"}
PYFEAT_COLUMNS = ("participant", "group", "stimulus", "stimulus_title", "position", "frame", "approx_time",
                  "face_found", *PYFEAT_NAMES.values(), "valence", "arousal")
PHYSIO_COLUMNS = ("face_found", *(f"p_{e}" for e in EMOTIONS))
EVENT_COLUMNS = ("onset", "duration", "trial_type", "stimulus", "stimulus_title", "position", "ended")


def pyfeat_rows(rows: list[dict]) -> list[dict]:
    """``frames.csv`` rows renamed as py-feat's ``Fex`` names them: emotions anger…neutral, ``approx_time``, and
    ``frame`` counting each participant's frames of each stimulus from 0."""
    counters: dict[tuple[str, str], int] = {}
    out = []
    for r in rows:
        key = (r["participant"], r["stimulus"])
        frame = counters.get(key, 0)
        counters[key] = frame + 1
        row = {k: r[k] for k in ("participant", "group", "stimulus", "stimulus_title", "position", "face_found",
                                 "valence", "arousal")}
        row.update(frame=frame, approx_time=r["media_time_s"])
        for e, name in PYFEAT_NAMES.items():
            row[name] = r[f"p_{e}"]
        out.append(row)
    return out


def bids_label(text: str, fallback: str) -> str:
    """BIDS labels are letters and digits only."""
    return re.sub(r"[^A-Za-z0-9]", "", text) or fallback


def _tsv_value(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value).replace("\t", " ").replace("\n", " ")


def _write_tsv(path: Path, rows: list[dict], columns: tuple[str, ...]) -> Path:
    lines = ["\t".join(columns)] + ["\t".join(_tsv_value(r.get(c)) for c in columns) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _write_json(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def _events(person: ParticipantLog, origin: float) -> list[dict]:
    events, open_at, paused_at = [], {}, None
    for r in person.records:
        data = r.data or {}
        if r.type == "StimulusStarted":
            open_at[data["stimulus"]] = (r.timestamp, data)
        elif r.type == "StimulusEnded" and data["stimulus"] in open_at:
            start, started = open_at.pop(data["stimulus"])
            sid = data["stimulus"]
            if sid == BASELINE:
                kind, stimulus = "calibration", ""
            elif sid.startswith(PRE_STIMULUS):
                kind, stimulus = "pre-stimulus", sid[len(PRE_STIMULUS):]
            else:
                kind, stimulus = "stimulus", sid
            events.append({"onset": start - origin, "duration": r.timestamp - start, "trial_type": kind,
                           "stimulus": stimulus, "stimulus_title": started["title"], "position": started["position"],
                           "ended": data["reason"]})
        elif r.type == "StudyPaused":
            paused_at = r.timestamp
        elif r.type == "StudyResumed" and paused_at is not None:
            events.append({"onset": paused_at - origin, "duration": r.timestamp - paused_at, "trial_type": "pause"})
            paused_at = None
    return sorted(events, key=lambda e: e["onset"])


def _physio(person: ParticipantLog, origin: float, hz: float) -> tuple[float, np.ndarray] | None:
    frames = person.frames()
    if not frames:
        return None
    t = np.array([f.timestamp for f in frames]) - origin
    face = np.array([bool(f.data["face"]) for f in frames])
    p = np.array([[f.probabilities[e] for e in EMOTIONS] if f.probabilities else [0.0] * len(EMOTIONS)
                  for f in frames])
    start = float(np.floor(t.min() * hz) / hz)
    index = np.floor((t - start) * hz + 1e-9).astype(int)
    samples = int(index.max()) + 1
    counts = np.bincount(index, minlength=samples)
    faces = np.bincount(index, weights=face.astype(float), minlength=samples)
    sums = np.zeros((samples, len(EMOTIONS)))
    np.add.at(sums, index[face], p[face])
    with np.errstate(invalid="ignore", divide="ignore"):
        data = np.column_stack([np.where(counts > 0, faces / counts, np.nan), sums / faces[:, None]])
    return start, data


def _physio_bytes(data: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, data, fmt="%.6f", delimiter="\t")
    return buffer.getvalue().replace("nan", "n/a").encode("ascii")


EVENTS_SIDECAR = {
    "onset": {"Description": "Start, from the start of the participant's session.", "Units": "s"},
    "duration": {"Description": "How long it was shown (pauses included).", "Units": "s"},
    "trial_type": {"Description": "What was on the screen.",
                   "Levels": {"stimulus": "a video or image of the study", "calibration": "the relax-your-face step",
                              "pre-stimulus": "the rest and fixation screens before a stimulus",
                              "pause": "the participant paused (camera off)"}},
    "stimulus": {"Description": "The stimulus id in the study file (for pre-stimulus: the stimulus that followed)."},
    "stimulus_title": {"Description": "Its title in the study file."},
    "position": {"Description": "Its place in this participant's order (1 = first)."},
    "ended": {"Description": "How it ended.", "Levels": {"finished": "shown to the end",
                                                         "aborted": "the participant ended the study during it"}},
}


def write_bids(out: Path, participants: list[ParticipantLog], study: str, title: str, hz: float = 10.0) -> list[Path]:
    """Write the BIDS-style folder ``out``; returns the files written."""
    from .._version import __version__

    if not hz > 0:
        raise ValueError(f"the physio sampling frequency must be above 0, got {hz}")
    out.mkdir(parents=True, exist_ok=True)
    task = bids_label(study, "study")
    files = [_write_json(out / "dataset_description.json", {
        "Name": title, "BIDSVersion": BIDS_VERSION, "DatasetType": "raw",
        "GeneratedBy": [{"Name": "emoplay study report", "Version": __version__}]})]
    people = [{"participant_id": f"sub-{bids_label(p.label, f'{n:02d}')}", "group": p.group}
              for n, p in enumerate(participants, start=1)]
    files.append(_write_tsv(out / "participants.tsv", people, ("participant_id", "group")))
    files.append(_write_json(out / "participants.json", {
        "participant_id": {"Description": "Pseudonym: the participant's label in the report (P01, P02, ... in the "
                                          "order they took part)."},
        "group": {"Description": "The group the participant was assigned to at `emoplay study run`."}}))
    physio_sidecar = {
        "face_found": {"Description": "Share of the camera frames in the sample's interval where a face was found.",
                       "Units": "proportion"},
        **{f"p_{e}": {"Description": f"Mean estimated probability that the face shows '{e}', over the interval's "
                                     "face frames.", "Units": "probability"} for e in EMOTIONS}}
    for person, info in zip(participants, people):
        sub = info["participant_id"]
        folder = out / sub / "beh"
        folder.mkdir(parents=True, exist_ok=True)
        stem = f"{sub}_task-{task}"
        origin = next(r.timestamp for r in person.records if r.type == "StudyStarted")
        files.append(_write_tsv(folder / f"{stem}_events.tsv", _events(person, origin), EVENT_COLUMNS))
        files.append(_write_json(folder / f"{stem}_events.json", EVENTS_SIDECAR))
        physio = _physio(person, origin, hz)
        if physio is None:
            continue
        start, data = physio
        path = folder / f"{stem}_physio.tsv.gz"
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as gz:
            gz.write(_physio_bytes(data))
        files.append(path)
        files.append(_write_json(folder / f"{stem}_physio.json", {
            "SamplingFrequency": hz, "StartTime": round(start, 6), "Columns": list(PHYSIO_COLUMNS),
            **physio_sidecar}))
    return files
