"""The protocol doc matches the code: the schema file, every example, every event type, the close codes."""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import re
import typing

import pytest

from tests.support import REPO
from tests.support.bridge import assert_valid_message
from emoplay._events import EVENT_TYPES
from emoplay.bridge import protocol, server

DOC = REPO / "docs" / "bridge" / "PROTOCOL.md"
SCHEMA_FILE = REPO / "docs" / "bridge" / "protocol.schema.json"


def test_the_schema_file_is_the_one_the_code_generates():
    assert json.loads(SCHEMA_FILE.read_text()) == protocol.json_schema(), (
        "docs/bridge/protocol.schema.json is stale: run `python -m emoplay.bridge > docs/bridge/protocol.schema.json`")


def _doc_examples() -> list[dict]:
    return [json.loads(block) for block in re.findall(r"```json\n(.*?)\n```", DOC.read_text(), re.S)]


def test_every_example_in_the_doc_matches_the_schema():
    examples = _doc_examples()
    assert len(examples) >= 12
    for example in examples:
        assert_valid_message(example)
    kinds = {e["type"] for e in examples}
    assert set(protocol.CLIENT_TYPES) <= kinds
    assert {"welcome", "error", "probabilities", "EmotionChanged", "FaceFound", "FaceLost"} <= kinds


def test_the_close_codes_in_the_doc_are_the_servers():
    table = dict(re.findall(r"^\| (\d{4}) \| (.*?) \|$", DOC.read_text(), re.M))
    for name in ("CLOSE_BAD_MESSAGE", "CLOSE_UNAUTHORIZED", "CLOSE_HELLO_TIMEOUT", "CLOSE_TOO_SLOW",
                 "CLOSE_TOO_MANY", "CLOSE_GOING_AWAY"):
        assert str(getattr(server, name)) in table, name


def _sample(hint):
    """A value of a dataclass field's type, for building any declared event."""
    if hint is int:
        return 1
    if hint is float:
        return 0.5
    if hint is str:
        return "text"
    if hint is bool:
        return True
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return list(hint)[0]
    args = typing.get_args(hint)
    if type(None) in args:
        return None
    origin = typing.get_origin(hint)
    if origin is tuple:
        return tuple(_sample(a) for a in args if a is not Ellipsis) * (1 if Ellipsis not in args else 2)
    if origin in (dict, collections.abc.Mapping):
        return {"happy": 0.75, "neutral": 0.25}
    raise AssertionError(f"add a sample for {hint}")


@pytest.mark.parametrize("name", list(EVENT_TYPES))
def test_every_declared_event_serialises_to_a_message_the_schema_accepts(name):
    cls = EVENT_TYPES[name]
    hints = typing.get_type_hints(cls)
    event = cls(**{f.name: _sample(hints[f.name]) for f in dataclasses.fields(cls) if f.init})
    message = protocol.event_message(event)
    assert message["type"] == name
    assert_valid_message(message)
    assert name in json.loads(SCHEMA_FILE.read_text())["$defs"][f"server.{name}"]["properties"]["type"]["const"]


@pytest.mark.parametrize("text, error", [
    ("nope", "one JSON object"), ("[]", "JSON object"), ('{"type": "hi"}', "unknown message type"),
    ('{"type": "hello"}', "token"), ('{"type": "hello", "token": "t", "events": ["Nope"]}', "unknown event"),
    ('{"type": "hello", "token": "t", "probabilities_hz": 99}', "probabilities_hz"),
    ('{"type": "hello", "token": "t", "client": 7}', "client"), (b"\xff\xfe", "UTF-8"),
])
def test_bad_client_messages_say_what_is_wrong(text, error):
    with pytest.raises(protocol.ProtocolError, match=error):
        protocol.parse_client_message(text)


def test_unknown_fields_are_ignored():
    hello = protocol.parse_client_message('{"type": "hello", "token": "t", "future_field": {"x": 1}}')
    assert hello["token"] == "t"
