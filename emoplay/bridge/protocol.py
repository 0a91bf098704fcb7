"""The bridge protocol: message shapes and their JSON Schema (the valence/arousal table is emoplay._valence_arousal's).

Messages are JSON objects with a ``type``; both sides ignore fields they do not know.
Events are serialised generically from the event dataclasses (the same fields as
``emoplay watch --json``), so an event type added to ``emoplay._events.EVENT_TYPES``
flows through the bridge and into the schema without a change here. The full
specification is docs/bridge/PROTOCOL.md; ``python -m emoplay.bridge`` prints
the schema that its companion docs/bridge/protocol.schema.json holds.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import types
import typing
from collections.abc import Mapping
from typing import Any

from .._valence_arousal import VALENCE_AROUSAL, valence_arousal
from .._events import EMOTIONS, EVENT_TYPES
from .._event_dicts import event_to_dict

PROTOCOL_VERSION = 1

# Client -> server message types, and the fields each may carry.
CLIENT_TYPES = ("hello", "indicator", "pause", "resume", "ping")
MAX_NAME_LENGTH = 64
MAX_PROBABILITY_HZ = 30.0


class ProtocolError(ValueError):
    """A client message that does not follow the protocol (the connection is closed with the reason)."""


def event_message(event: Any) -> dict[str, Any]:
    """An event dataclass as a protocol message: ``type`` is the event's name, then its fields."""
    fields = event_to_dict(event)
    message = {"type": fields.pop("event"), **fields}
    probabilities = message.get("probabilities")
    if isinstance(probabilities, Mapping):
        message["valence"], message["arousal"] = valence_arousal(probabilities)
    return message


def probabilities_message(track_id: int, probabilities: Any, timestamp: float) -> dict[str, Any]:
    """One face's per-frame probabilities (the optional rate-limited stream)."""
    named = {name: round(float(p), 4) for name, p in zip(EMOTIONS, probabilities)}
    valence, arousal = valence_arousal(named)
    return {"type": "probabilities", "track_id": int(track_id), "probabilities": named, "valence": valence,
            "arousal": arousal, "timestamp": round(float(timestamp), 4)}


def welcome_message(camera_state: str, source: str, emotions: Mapping[int, tuple[str, float]],
                    primary_track_id: int | None, events: list[str], probability_hz: float) -> dict[str, Any]:
    faces = [{"track_id": int(track_id), "emotion": emotion, "confidence": round(float(confidence), 4)}
             for track_id, (emotion, confidence) in sorted(emotions.items())]
    return {"type": "welcome", "protocol": PROTOCOL_VERSION, "camera_state": camera_state, "source": source,
            "faces": faces, "primary_track_id": primary_track_id, "events": events, "emotions": list(EMOTIONS),
            "probability_hz": probability_hz, "valence_arousal": {k: list(v) for k, v in VALENCE_AROUSAL.items()}}


def error_message(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}


def encode(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), allow_nan=False)


def parse_client_message(text: str | bytes) -> dict[str, Any]:
    """Decode and check one client message; raises ProtocolError saying what is wrong."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError("messages are UTF-8 JSON text") from None
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: arrays or objects nested too deep to decode
        raise ProtocolError("a message must be one JSON object") from None
    if not isinstance(message, dict):
        raise ProtocolError("a message must be a JSON object")
    kind = message.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(f"unknown message type {kind!r}; one of {', '.join(CLIENT_TYPES)}")
    if kind == "hello":
        _check_hello(message)
    return message


def _check_hello(message: dict[str, Any]) -> None:
    token = message.get("token")
    if not isinstance(token, str) or not token:
        raise ProtocolError("hello needs a 'token' string (the pairing token from the token file)")
    name = message.get("client", "")
    if not isinstance(name, str) or len(name) > MAX_NAME_LENGTH:
        raise ProtocolError(f"'client' must be a string of at most {MAX_NAME_LENGTH} characters")
    events = message.get("events")
    if events is not None:
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ProtocolError("'events' must be a list of event type names")
        unknown = sorted(set(events) - set(EVENT_TYPES) - {"probabilities"})
        if unknown:
            raise ProtocolError(f"unknown event types {unknown}; known: {', '.join([*EVENT_TYPES, 'probabilities'])}")
    hz = message.get("probabilities_hz", 0)
    if isinstance(hz, bool) or not isinstance(hz, (int, float)) or not 0 <= hz <= MAX_PROBABILITY_HZ:
        raise ProtocolError(f"'probabilities_hz' must be a number from 0 (off) to {MAX_PROBABILITY_HZ:g}")


# -- JSON Schema ---------------------------------------------------------------------------------------------
_PRIMITIVES = {int: {"type": "integer"}, float: {"type": "number"}, str: {"type": "string"},
               bool: {"type": "boolean"}, type(None): {"type": "null"}}


def _type_schema(hint: Any) -> dict[str, Any] | None:
    """JSON Schema of one dataclass field's type hint; None for fields that are not serialised (exceptions)."""
    if hint in _PRIMITIVES:
        return dict(_PRIMITIVES[hint])
    if isinstance(hint, type) and issubclass(hint, BaseException):
        return None
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return {"type": "string", "enum": [m.value for m in hint]}
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        options = [_type_schema(a) for a in args]
        if any(o is None for o in options):
            return None if all(o is None or o == {"type": "null"} for o in options) else {}
        return {"anyOf": options}
    if origin in (tuple, list):
        items = [a for a in args if a is not Ellipsis]
        schema: dict[str, Any] = {"type": "array"}
        if items and all(a == items[0] for a in items):
            schema["items"] = _type_schema(items[0]) or {}
        if origin is tuple and args and Ellipsis not in args:
            schema["minItems"] = schema["maxItems"] = len(args)
        return schema
    if origin in (dict, Mapping, typing.Mapping) or hint is dict:
        value = _type_schema(args[1]) if len(args) == 2 else {}
        return {"type": "object", "additionalProperties": value or {}}
    return {}


def _event_schema(name: str, cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {"type": {"const": name}}
    required = ["type"]
    for f in dataclasses.fields(cls):
        schema = _type_schema(hints[f.name])
        if schema is None:
            continue
        properties[f.name] = schema
        required.append(f.name)
        if f.name == "probabilities":
            properties["valence"] = {"type": "number", "minimum": -1, "maximum": 1}
            properties["arousal"] = {"type": "number", "minimum": -1, "maximum": 1}
            required += ["valence", "arousal"]
    doc = (cls.__doc__ or "").strip().splitlines()
    out = {"type": "object", "properties": properties, "required": required}
    if doc and not doc[0].startswith(f"{cls.__name__}("):
        out["description"] = doc[0]
    return out


def _probabilities_schema() -> dict[str, Any]:
    unit = {"type": "number", "minimum": 0, "maximum": 1}
    return {"type": "object", "description": "one face's probabilities, at most probabilities_hz per second",
            "properties": {"type": {"const": "probabilities"}, "track_id": {"type": "integer"},
                           "probabilities": {"type": "object", "properties": {e: unit for e in EMOTIONS},
                                             "required": list(EMOTIONS)},
                           "valence": {"type": "number", "minimum": -1, "maximum": 1},
                           "arousal": {"type": "number", "minimum": -1, "maximum": 1},
                           "timestamp": {"type": "number"}},
            "required": ["type", "track_id", "probabilities", "valence", "arousal", "timestamp"]}


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of every message, client to server and server to client."""
    event_names = list(EVENT_TYPES)
    server = {
        "welcome": {"type": "object", "properties": {
            "type": {"const": "welcome"}, "protocol": {"const": PROTOCOL_VERSION},
            "camera_state": {"type": "string"}, "source": {"type": "string"},
            "faces": {"type": "array", "items": {"type": "object", "properties": {
                "track_id": {"type": "integer"}, "emotion": {"type": "string"}, "confidence": {"type": "number"}},
                "required": ["track_id", "emotion", "confidence"]}},
            "primary_track_id": {"type": ["integer", "null"]},
            "events": {"type": "array", "items": {"type": "string"}},
            "emotions": {"type": "array", "items": {"type": "string"}},
            "probability_hz": {"type": "number"},
            "valence_arousal": {"type": "object"}},
            "required": ["type", "protocol", "camera_state", "source", "faces", "primary_track_id", "events",
                         "emotions", "probability_hz", "valence_arousal"]},
        "error": {"type": "object", "properties": {"type": {"const": "error"}, "code": {"type": "string"},
                                                   "message": {"type": "string"}},
                  "required": ["type", "code", "message"]},
        "pong": {"type": "object", "properties": {"type": {"const": "pong"}}, "required": ["type"]},
        "probabilities": _probabilities_schema(),
        **{name: _event_schema(name, cls) for name, cls in EVENT_TYPES.items()},
    }
    client = {
        "hello": {"type": "object", "properties": {
            "type": {"const": "hello"}, "token": {"type": "string", "minLength": 1},
            "client": {"type": "string", "maxLength": MAX_NAME_LENGTH},
            "events": {"type": "array", "items": {"enum": [*event_names, "probabilities"]}},
            "probabilities_hz": {"type": "number", "minimum": 0, "maximum": MAX_PROBABILITY_HZ}},
            "required": ["type", "token"]},
        **{kind: {"type": "object", "properties": {"type": {"const": kind}}, "required": ["type"]}
           for kind in CLIENT_TYPES if kind != "hello"},
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"emoplay bridge protocol, version {PROTOCOL_VERSION}",
        "description": "Every message is one JSON object with a 'type'; receivers ignore unknown fields.",
        "$defs": {**{f"server.{k}": v for k, v in server.items()}, **{f"client.{k}": v for k, v in client.items()}},
        "oneOf": [{"$ref": f"#/$defs/{key}"} for key in [*(f"server.{k}" for k in server),
                                                          *(f"client.{k}" for k in client)]],
    }


def message_schema(direction: str, kind: str) -> dict[str, Any]:
    """The schema of one message type (``direction``: "server" or "client"), resolvable on its own."""
    schema = json_schema()
    return {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": f"#/$defs/{direction}.{kind}"}

