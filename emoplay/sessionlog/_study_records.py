"""Study records: the session-log format extension that ``emoplay study run`` writes.

A log whose header sets flag bit 1 (``FLAG_STUDY_RECORDS``) may hold, besides the
ordinary event records, the record types below (``privacy/LOG_FORMAT.md``, section
"Study records"). This module is their schema, used by the writer to check a
payload before sealing it and by the reader to check one after opening it. It holds
no pixels by construction: every member is a short string, a number, a flag, a
short list of stimulus ids or a mapping of at most 16 class names to numbers.

Pure Python, no I/O; ``_format`` and ``_records`` import it.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from .._errors import LogFormatError

FLAG_STUDY_RECORDS = 0x02

MAX_TEXT = 200  # characters in any string member
MAX_ORDER = 1000  # stimuli in a StudyStarted order
MAX_CLASSES = 16  # names in a probabilities mapping


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEXT


def _optional(check: Callable[[object], bool]) -> Callable[[object], bool]:
    return lambda value: value is None or check(value)


def _order(value: object) -> bool:
    return isinstance(value, list) and len(value) <= MAX_ORDER and all(_text(v) for v in value)


def _probabilities(value: object) -> bool:
    return (isinstance(value, dict) and 0 < len(value) <= MAX_CLASSES
            and all(_text(k) and _number(v) for k, v in value.items()))


# Members of each record type besides "type" and "t" (the monotonic timestamp, a number).
SCHEMA: dict[str, dict[str, Callable[[object], bool]]] = {
    "StudyStarted": {
        "study": _text, "title": _text, "fingerprint": _text, "participant": _text, "group": _text,
        "order": _order, "seed": _optional(_integer), "calibration": _text, "emoplay": _text, "model": _text,
    },
    "CalibrationStep": {"outcome": _text, "detail": _text},
    "StimulusStarted": {"stimulus": _text, "title": _text, "position": _integer, "duration": _number},
    "FrameProbabilities": {
        "stimulus": _text, "media_time": _number, "face": lambda v: isinstance(v, bool),
        "track": _optional(_integer), "probabilities": _optional(_probabilities),
    },
    "StudyPaused": {"stimulus": _optional(_text), "media_time": _optional(_number)},
    "StudyResumed": {"stimulus": _optional(_text), "media_time": _optional(_number)},
    "StimulusEnded": {"stimulus": _text, "media_time": _number, "reason": _text},
}
STUDY_RECORD_TYPES = tuple(SCHEMA)


def _problem(payload: dict) -> str | None:
    kind = payload.get("type")
    schema = SCHEMA.get(kind)  # type: ignore[arg-type]
    if schema is None:
        return f"unknown study record type {kind!r}"
    if not _number(payload.get("t")):
        return "its time t is not a finite number"
    extra = set(payload) - set(schema) - {"type", "t"}
    if extra:
        return f"unexpected members {sorted(extra)}"
    for name, check in schema.items():
        if not check(payload.get(name)):
            return f"member {name!r} is missing or malformed"
    if kind == "FrameProbabilities" and payload["face"] != (payload["probabilities"] is not None):
        return "probabilities must be present exactly when a face was found"
    return None


def study_payload(kind: str, t: float, fields: dict[str, Any]) -> dict:
    """The JSON object for a study record; ``ValueError`` naming the member when it does not fit the schema."""
    payload = {"type": kind, "t": float(t), **fields}
    problem = _problem(payload)
    if problem:
        raise ValueError(f"cannot log a {kind} record: {problem}")
    return payload


def study_record_parts(index: int, payload: dict) -> tuple[float, int | None, dict | None, dict]:
    """(t, track id or None, probabilities or None, the other members) of an authentic study record."""
    problem = _problem(payload)
    if problem:
        raise LogFormatError(f"record {index} is authentic but is not a valid study record: {problem}")
    data = {k: v for k, v in payload.items() if k not in ("type", "t", "track", "probabilities")}
    track = payload.get("track")
    probabilities = payload.get("probabilities")
    if probabilities is not None:
        probabilities = {k: float(v) for k, v in probabilities.items()}
    return float(payload["t"]), track if _integer(track) else None, probabilities, data
