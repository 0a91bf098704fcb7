"""The story as data: load a TOML (or JSON) story file and check it before the game starts.

Every problem raises :class:`StoryError` naming the file, the scene and the field, e.g.
``story.toml: scene 'door', field 'responses.happy.next': unknown scene 'kitchn'``.
The format is described at the top of ``story.toml``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from emoplay import EMOTIONS

DEFAULT_STORY = Path(__file__).with_name("story.toml")

SETTINGS = ("storm", "hearth", "stairs", "lamp", "cliff", "dawn")
MOODS = ("storm", "warm", "calm", "tense", "wonder", "melancholy", "triumph")
FACES = ("calm", "smile", "worried", "stern", "surprised")
DEFAULT_RESPONSE = "default"

_SCENE_FIELDS = {"title", "setting", "mood", "face", "text", "responses", "ending"}
_RESPONSE_FIELDS = {"reply", "next", "face"}
_ENDING_FIELDS = {"title"}
_TOP_FIELDS = {"title", "npc", "start", "scenes"}


class StoryError(ValueError):
    """The story file is malformed. ``scene`` and ``field`` say where (None at the top level)."""

    def __init__(self, source: str, scene: str | None, field: str | None, problem: str) -> None:
        where = [source]
        if scene is not None:
            where.append(f"scene {scene!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{', '.join(where)}: {problem}")
        self.source, self.scene, self.field, self.problem = source, scene, field, problem


@dataclass(frozen=True)
class Response:
    reply: str
    next: str
    face: str


@dataclass(frozen=True)
class StoryScene:
    id: str
    title: str
    setting: str
    mood: str
    face: str
    text: str
    responses: Mapping[str, Response]  # emotion (or "default") -> response; empty for an ending
    ending: str | None  # the ending's title, or None for a choice

    @property
    def is_ending(self) -> bool:
        return self.ending is not None

    def respond(self, emotion: str) -> Response:
        """The keeper's answer to ``emotion`` ("unknown" and unlisted emotions get the default)."""
        if self.is_ending:
            raise ValueError(f"scene {self.id!r} is an ending; it has no responses")
        return self.responses.get(emotion) or self.responses[DEFAULT_RESPONSE]


@dataclass(frozen=True)
class Story:
    title: str
    npc: str
    start: str
    scenes: Mapping[str, StoryScene]

    @property
    def endings(self) -> tuple[str, ...]:
        return tuple(s.id for s in self.scenes.values() if s.is_ending)


def load_story(path: str | Path = DEFAULT_STORY) -> Story:
    """Read and check a story file (``.toml`` or ``.json``)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StoryError(path.name, None, None, f"cannot read the file ({exc.strerror})") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise StoryError(path.name, None, None, f"not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}") from exc
    return parse_story(data, source=path.name)


def parse_story(data: Any, source: str = "<story>") -> Story:
    """Check an already-decoded story mapping and build a :class:`Story`."""
    if not isinstance(data, dict):
        raise StoryError(source, None, None, "the top level must be a table")
    _no_unknown_fields(data, _TOP_FIELDS, source, None, "")
    title = _text(data, "title", source, None)
    npc = _text(data, "npc", source, None)
    start = _text(data, "start", source, None)
    raw_scenes = data.get("scenes")
    if not isinstance(raw_scenes, dict) or not raw_scenes:
        raise StoryError(source, None, "scenes", "missing, or not a table of scenes")

    scenes = {sid: _parse_scene(sid, raw, source) for sid, raw in raw_scenes.items()}
    if start not in scenes:
        raise StoryError(source, None, "start", f"unknown scene {start!r}")
    for scene in scenes.values():
        for key, response in scene.responses.items():
            if response.next not in scenes:
                raise StoryError(source, scene.id, f"responses.{key}.next", f"unknown scene {response.next!r}")
    _check_graph(scenes, start, source)
    return Story(title=title, npc=npc, start=start, scenes=scenes)


def _parse_scene(sid: str, raw: Any, source: str) -> StoryScene:
    if not isinstance(raw, dict):
        raise StoryError(source, sid, None, "a scene must be a table")
    _no_unknown_fields(raw, _SCENE_FIELDS, source, sid, "")
    title = _text(raw, "title", source, sid)
    text = _text(raw, "text", source, sid)
    setting = _choice(raw, "setting", SETTINGS, source, sid)
    mood = _choice(raw, "mood", MOODS, source, sid)
    face = _choice(raw, "face", FACES, source, sid, default="calm")
    has_responses, has_ending = "responses" in raw, "ending" in raw
    if has_responses == has_ending:
        raise StoryError(source, sid, "responses", "a scene needs exactly one of 'responses' or 'ending'")

    ending = None
    responses: dict[str, Response] = {}
    if has_ending:
        raw_ending = raw["ending"]
        if not isinstance(raw_ending, dict):
            raise StoryError(source, sid, "ending", "must be a table like { title = \"...\" }")
        _no_unknown_fields(raw_ending, _ENDING_FIELDS, source, sid, "ending.")
        ending = _text(raw_ending, "title", source, sid, prefix="ending.")
    else:
        raw_responses = raw["responses"]
        if not isinstance(raw_responses, dict) or not raw_responses:
            raise StoryError(source, sid, "responses", "must be a non-empty table of emotion = { reply, next }")
        for key, value in raw_responses.items():
            if key != DEFAULT_RESPONSE and key not in EMOTIONS:
                allowed = ", ".join((*EMOTIONS, DEFAULT_RESPONSE))
                raise StoryError(source, sid, f"responses.{key}", f"unknown emotion {key!r}; use one of {allowed}")
            prefix = f"responses.{key}."
            if not isinstance(value, dict):
                raise StoryError(source, sid, f"responses.{key}", "must be a table { reply, next, face }")
            _no_unknown_fields(value, _RESPONSE_FIELDS, source, sid, prefix)
            responses[key] = Response(
                reply=_text(value, "reply", source, sid, prefix=prefix),
                next=_text(value, "next", source, sid, prefix=prefix),
                face=_choice(value, "face", FACES, source, sid, default=face, prefix=prefix),
            )
        if DEFAULT_RESPONSE not in responses and not set(EMOTIONS) <= responses.keys():
            raise StoryError(source, sid, "responses.default", "missing; it answers every emotion not listed")
    return StoryScene(sid, title, setting, mood, face, text, responses, ending)


def _check_graph(scenes: Mapping[str, StoryScene], start: str, source: str) -> None:
    """Every scene is reachable from the start, and every scene can reach an ending."""
    reached, todo = {start}, [start]
    while todo:
        for response in scenes[todo.pop()].responses.values():
            if response.next not in reached:
                reached.add(response.next)
                todo.append(response.next)
    for sid in scenes:
        if sid not in reached:
            raise StoryError(source, sid, None, f"unreachable from the start scene {start!r}")
    ends = {sid for sid, s in scenes.items() if s.is_ending}
    changed = True
    while changed:
        changed = False
        for sid, scene in scenes.items():
            if sid not in ends and any(r.next in ends for r in scene.responses.values()):
                ends.add(sid)
                changed = True
    for sid in scenes:
        if sid not in ends:
            raise StoryError(source, sid, "responses", "no path from this scene leads to an ending")


def _no_unknown_fields(raw: dict, allowed: set[str], source: str, sid: str | None, prefix: str) -> None:
    for key in raw:
        if key not in allowed:
            expected = ", ".join(sorted(allowed))
            raise StoryError(source, sid, f"{prefix}{key}", f"unknown field; expected one of {expected}")


def _text(raw: dict, key: str, source: str, sid: str | None, prefix: str = "") -> str:
    if key not in raw:
        raise StoryError(source, sid, f"{prefix}{key}", "missing")
    value = raw[key]
    if not isinstance(value, str) or not value.strip():
        raise StoryError(source, sid, f"{prefix}{key}", "must be non-empty text")
    return " ".join(value.split())


def _choice(raw: dict, key: str, allowed: tuple[str, ...], source: str, sid: str | None,
            default: str | None = None, prefix: str = "") -> str:
    if key not in raw:
        if default is None:
            raise StoryError(source, sid, f"{prefix}{key}", f"missing; one of {', '.join(allowed)}")
        return default
    value = raw[key]
    if value not in allowed:
        raise StoryError(source, sid, f"{prefix}{key}", f"{value!r} is not one of {', '.join(allowed)}")
    return value
