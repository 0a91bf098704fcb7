"""Reading a study's session logs: which ones belong in a report, and why the others were left out.

Every log is opened on its own; one that cannot be used (another key, another
study, not a study log, damaged) becomes a :class:`LeftOut` with a sentence a
researcher can act on, and the rest of the report goes ahead. A log cut short
keeps every complete record and gets a note.

Reasons and notes go into the shared report, so they never name a log's file: its
default name holds the participant code (``STUDY-PARTICIPANT-DATE.emolog``). A log
left out is "log N", its place among the logs given; a participant is their label.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import LogAuthenticationError, LogError, LogFormatError
from ..sessionlog import LogKey, LogRecord, read_session_log
from .recording import is_segment


@dataclass(frozen=True)
class ParticipantLog:
    """One participant's session, as read from their log."""

    path: Path
    participant: str  # as typed at `study run`; shown only with --keep-ids
    label: str  # what the report calls them: P01, P02, ... (or the id itself)
    group: str
    study: str
    title: str
    fingerprint: str
    order: tuple[str, ...]
    seed: int | None
    calibration: str  # "off", or the CalibrationStep outcome: done, failed, unavailable
    started_at: float  # wall clock, from the log header
    complete: bool
    records: tuple[LogRecord, ...] = field(repr=False)

    def stimuli_shown(self) -> dict[str, dict]:
        """Per stimulus id: title, position, duration, and how it ended ("finished", "aborted" or "cut short")."""
        shown: dict[str, dict] = {}
        for r in self.records:
            data = r.data or {}
            if r.type == "StimulusStarted":
                shown[data["stimulus"]] = {"title": data["title"], "position": data["position"],
                                           "duration": data["duration"], "ended": "cut short"}
            elif r.type == "StimulusEnded" and data["stimulus"] in shown:
                shown[data["stimulus"]]["ended"] = data["reason"]
        return shown

    def frames(self) -> list[LogRecord]:
        return [r for r in self.records if r.type == "FrameProbabilities"]


@dataclass(frozen=True)
class LeftOut:
    path: Path  # for the researcher's terminal only: the file name may hold the participant code
    reason: str
    position: int  # 1, 2, ...: its place among the logs given; the report calls it "log N"


@dataclass(frozen=True)
class LoadedLogs:
    study: str | None
    participants: list[ParticipantLog]
    left_out: list[LeftOut]
    notes: list[str]


def _open(path: Path, key: LogKey) -> tuple[dict | None, object]:
    """(StudyStarted data, the log) or (None, a reason to leave it out)."""
    try:
        log = read_session_log(path, key, allow_truncated=True)
    except LogAuthenticationError:
        return None, ("it does not open with this key or passphrase: it was written with another key, "
                      "or the file was modified. Report it separately with its own key")
    except LogFormatError as exc:
        return None, f"it is not a readable emoplay session log ({exc})"
    except LogError as exc:
        if isinstance(exc.__cause__, OSError):  # the message names the file
            return None, f"it cannot be read ({exc.__cause__.strerror or type(exc.__cause__).__name__})"
        return None, str(exc)
    if not log.header.study_records:
        return None, "it is an emoplay session log but not one written by `emoplay study run`"
    started = next((r for r in log.records if r.type == "StudyStarted"), None)
    if started is None:
        return None, "it holds no StudyStarted record (the session ended before it began)"
    return dict(started.data), log


def _labels(participants: list[str], keep_ids: bool) -> dict[str, str]:
    """Participant id -> what the report calls them: P01, P02... in this order, or the id itself."""
    width = max(2, len(str(len(participants))))
    return {p: p if keep_ids else f"P{number:0{width}d}" for number, p in enumerate(participants, start=1)}


def load_logs(paths: list[Path], key: LogKey, study: str | None = None, keep_ids: bool = False) -> LoadedLogs:
    """Open every log; keep those of ``study`` (default: the study most logs belong to)."""
    opened: list[tuple[int, Path, dict, object]] = []
    left_out: list[LeftOut] = []
    notes: list[str] = []
    for position, path in enumerate(paths, start=1):
        path = Path(path)
        info, log = _open(path, key)
        if info is None:
            left_out.append(LeftOut(path, str(log), position))
        else:
            opened.append((position, path, info, log))
    if study is None and opened:
        counts = collections.Counter(info["study"] for _, _, info, _ in opened)
        study = max(counts, key=lambda s: (counts[s], -[i["study"] for _, _, i, _ in opened].index(s)))
    kept: list[tuple[Path, dict, object]] = []
    seen: set[str] = set()
    seconds: list[tuple[int, Path, str]] = []  # a second log of a participant: (position, path, participant)
    for position, path, info, log in sorted(opened, key=lambda item: item[3].header.started_at):
        if info["study"] != study:
            left_out.append(LeftOut(path, f"it is a log of another study ({info['study']!r}); this report is "
                                          f"for study {study!r}", position))
        elif info["participant"] in seen:
            seconds.append((position, path, info["participant"]))
        else:
            seen.add(info["participant"])
            kept.append((path, info, log))
    labels = _labels([info["participant"] for _, info, _ in kept], keep_ids)
    for position, path, participant in seconds:
        left_out.append(LeftOut(path, f"it is a second log of {labels[participant]}, whose first log is in this "
                                      "report; report it separately if both count", position))
    left_out.sort(key=lambda x: x.position)
    fingerprints = {info["fingerprint"] for _, info, _ in kept}
    if len(fingerprints) > 1:
        notes.append(f"The study file changed between sessions ({len(fingerprints)} different versions of its "
                     "stimuli): check that every participant saw the same videos.")
    participants = []
    for path, info, log in kept:
        calibration = info["calibration"]
        if calibration == "on":
            step = next((r for r in log.records if r.type == "CalibrationStep"), None)
            calibration = step.data["outcome"] if step is not None else "not reached"
        participant = ParticipantLog(
            path=path, participant=info["participant"], label=labels[info["participant"]],
            group=info["group"], study=info["study"], title=info["title"], fingerprint=info["fingerprint"],
            order=tuple(info["order"]), seed=info["seed"], calibration=calibration,
            started_at=log.header.started_at, complete=log.complete, records=tuple(log.records))
        participants.append(participant)
        shown = participant.stimuli_shown()
        missing = [s for s in participant.order if s not in shown]
        partial = [s for s, v in shown.items() if v["ended"] != "finished" and not is_segment(s)]
        if not log.complete:
            notes.append(f"{participant.label}: their log was cut short (no final record); its "
                         f"{len(log.records)} complete records are used.")
        if partial:
            notes.append(f"{participant.label}: {', '.join(partial)} did not play to the end (ended early or cut "
                         "short); only the part that was shown is used.")
        if missing:
            notes.append(f"{participant.label}: never saw {', '.join(missing)} (the study ended before).")
        if calibration not in ("off", "done"):
            notes.append(f"{participant.label}: calibration {calibration}; their probabilities are uncalibrated.")
    return LoadedLogs(study, participants, left_out, notes)
