"""Session-log record payloads: the JSON object logged for each event, and the :class:`LogRecord` read back."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping

from .._errors import LogFormatError
from .._events import EmotionChanged, EventsDropped, FaceFound, FaceLost
from ._format import _EVENT_TYPES_BY_VERSION, VERSION, _finite
from ._study_records import study_record_parts

__all__ = ["LogRecord"]

@dataclass(frozen=True)
class LogRecord:
    """One logged event. ``timestamp`` is the event's monotonic timestamp in seconds.

    ``type`` is ``"EmotionChanged"``, ``"FaceFound"``, ``"FaceLost"`` or (version 2)
    ``"EventsDropped"``; ``emotion``, ``previous`` and ``confidence`` are set for
    ``EmotionChanged`` only, and ``probabilities`` only when the writer was asked to
    include them. An ``EventsDropped`` record has no track (``track_id`` is None) and
    ``count`` says how many events the sensor dropped before they reached the log.
    """

    index: int
    type: str
    timestamp: float
    track_id: int | None
    emotion: str | None = None
    previous: str | None = None
    confidence: float | None = None
    probabilities: Mapping[str, float] | None = None
    data: Mapping[str, object] | None = None  # a study record's other members (LOG_FORMAT.md, Study records)
    count: int | None = None  # EventsDropped only

    def to_dict(self) -> dict:
        if self.type == "EventsDropped":
            return {"index": self.index, "type": self.type, "timestamp": self.timestamp, "count": self.count}
        out: dict = {"index": self.index, "type": self.type, "timestamp": self.timestamp, "track_id": self.track_id}
        if self.data is not None:
            out.update(self.data)
            if self.probabilities is not None:
                out["probabilities"] = dict(self.probabilities)
        if self.type == "EmotionChanged":
            out.update(emotion=self.emotion, previous=self.previous, confidence=self.confidence)
            if self.probabilities is not None:
                out["probabilities"] = dict(self.probabilities)
        return out



def _event_payload(event: object, include_probabilities: bool) -> dict | None:
    """The JSON object logged for an event, or None for event types that are not logged."""
    if isinstance(event, EmotionChanged):
        payload = {
            "type": "EmotionChanged",
            "t": _finite(event.timestamp, "timestamp"),
            "track": int(event.track_id),
            "emotion": str(event.current),
            "previous": str(event.previous),
            "confidence": _finite(event.confidence, "confidence"),
        }
        if include_probabilities:
            payload["probabilities"] = {
                str(k): _finite(v, f"probability of {k}") for k, v in dict(event.probabilities).items()
            }
        return payload
    if isinstance(event, (FaceFound, FaceLost)):
        # The face box is left out on purpose: time and track are enough for a timeline.
        return {"type": type(event).__name__, "t": _finite(event.timestamp, "timestamp"), "track": int(event.track_id)}
    if isinstance(event, EventsDropped):
        count = int(event.count)
        if count < 1:
            raise ValueError(f"EventsDropped.count must be at least 1, got {count}")
        return {"type": "EventsDropped", "t": _finite(event.timestamp, "timestamp"), "count": count}
    return None



def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _decode_payload(index: int, plaintext: bytes) -> dict:
    """Parse an authenticated record; a malformed one can only come from a key holder or a bug."""
    try:
        payload = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise LogFormatError(f"record {index} is authentic but is not valid JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise LogFormatError(f"record {index} is authentic but has no event type")
    return payload


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _record_from_payload(index: int, payload: dict, version: int = VERSION) -> LogRecord:
    kind = payload["type"]
    t, track = payload.get("t"), payload.get("track")
    if kind not in _EVENT_TYPES_BY_VERSION[version] or not _is_number(t):
        raise LogFormatError(f"record {index} is authentic but is not a logged event")
    if kind == "EventsDropped":
        count = payload.get("count")
        if not _is_int(count) or count < 1:
            raise LogFormatError(f"record {index} is authentic but its dropped-event count is malformed")
        return LogRecord(index=index, type=kind, timestamp=float(t), track_id=None, count=count)
    if not _is_int(track):
        raise LogFormatError(f"record {index} is authentic but is not a logged event")
    if kind != "EmotionChanged":
        return LogRecord(index=index, type=kind, timestamp=float(t), track_id=track)
    emotion, previous, confidence = payload.get("emotion"), payload.get("previous"), payload.get("confidence")
    probabilities = payload.get("probabilities")
    if not (isinstance(emotion, str) and isinstance(previous, str) and _is_number(confidence)):
        raise LogFormatError(f"record {index} is authentic but its emotion fields are malformed")
    if probabilities is not None:
        if not isinstance(probabilities, dict) or not all(
            isinstance(k, str) and _is_number(v) for k, v in probabilities.items()
        ):
            raise LogFormatError(f"record {index} is authentic but its probabilities are malformed")
        probabilities = {k: float(v) for k, v in probabilities.items()}
    return LogRecord(
        index=index,
        type=kind,
        timestamp=float(t),
        track_id=track,
        emotion=emotion,
        previous=previous,
        confidence=float(confidence),
        probabilities=probabilities,
    )


def _study_record_from_payload(index: int, payload: dict) -> LogRecord:
    """A study record (header flag bit 1 set); its schema lives in ``_study_records``."""
    t, track, probabilities, data = study_record_parts(index, payload)
    return LogRecord(index=index, type=payload["type"], timestamp=t, track_id=track, probabilities=probabilities,
                     data=data)

