"""The study file: what participants see, in which order, with which screens.

A study is one TOML file; paths in it are relative to the file::

    id = "clips-2026"                  # letters, digits, - and _; logs carry it
    title = "Reactions to three short clips"
    order = "shuffled"                 # or "fixed"; shuffled orders record their seed
    calibration = true                 # a "relax your face" step before the first stimulus
    calibration_seconds = 3
    rest_seconds = 5                   # rest screen between stimuli (0: none)
    fixation_seconds = 1               # a fixation cross before every stimulus (0, the default: none)
    groups = ["18-29", "30-49", "50+"] # the groups a participant may be assigned to
    researcher = "Dr A. Researcher, a.researcher@example.org"   # shown on the consent screen
    consent = "Optional extra paragraph for the consent screen."

    [[stimuli]]
    id = "cats"
    file = "stimuli/cats.mp4"
    title = "Cats playing"             # optional (default: the id)
    audio = "stimuli/cats.ogg"         # optional side-car sound: OpenCV cannot decode a video's audio

    [[stimuli]]
    id = "sunset"
    file = "stimuli/sunset.jpg"        # a still image (.png, .jpg, .jpeg, .bmp) ...
    seconds = 8                        # ... shown for this long (required for an image, not allowed for a video)

:func:`load_study` checks every field and raises :class:`~emoplay.StudySpecError`
naming the first one that is wrong and what to write instead.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from .._errors import StudySpecError

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")
AUDIO_SUFFIXES = (".wav", ".ogg", ".mp3", ".flac")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
ORDERS = ("fixed", "shuffled")
_TOP_FIELDS = {"id", "title", "order", "calibration", "calibration_seconds", "rest_seconds", "fixation_seconds",
               "groups", "researcher", "consent", "stimuli"}
_STIMULUS_FIELDS = {"id", "file", "title", "audio", "seconds"}
MAX_TEXT = 200  # the log's limit for any string (see emoplay/sessionlog/_study_records.py)
POOLED_GROUP = "all"  # the report's name for every participant pooled, so no group may be called that


@dataclass(frozen=True)
class Stimulus:
    id: str
    file: Path
    title: str
    audio: Path | None = None
    seconds: float | None = None  # a still image's display time; None for a video

    @property
    def is_image(self) -> bool:
        return self.file.suffix.lower() in IMAGE_SUFFIXES


@dataclass(frozen=True)
class StudySpec:
    path: Path
    id: str
    title: str
    stimuli: tuple[Stimulus, ...]
    order: str = "fixed"
    calibration: bool = True
    calibration_seconds: float = 3.0
    rest_seconds: float = 5.0
    fixation_seconds: float = 0.0
    groups: tuple[str, ...] = ()
    researcher: str = ""
    consent: str = ""

    @property
    def fingerprint(self) -> str:
        """Short hash of what defines the study's data: id, stimulus ids, file names and sizes, order rule."""
        facts = {"id": self.id, "order": self.order,
                 "stimuli": [[s.id, s.file.name, _size(s.file)] + ([s.seconds] if s.seconds is not None else [])
                             for s in self.stimuli]}
        return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]

    def stimulus(self, stimulus_id: str) -> Stimulus:
        for s in self.stimuli:
            if s.id == stimulus_id:
                return s
        raise KeyError(stimulus_id)

    def order_for(self, seed: int | None) -> tuple[tuple[Stimulus, ...], int | None]:
        """This participant's order and the seed that made it (None for a fixed order)."""
        if self.order == "fixed":
            return self.stimuli, None
        seed = secrets.randbelow(2**31) if seed is None else int(seed)
        order = list(self.stimuli)
        random.Random(seed).shuffle(order)
        return tuple(order), seed


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def _fail(where: str, field: str, message: str) -> StudySpecError:
    return StudySpecError(f"{where}: {field}: {message}")


def _text(where: str, field: str, value: object, required: bool = False, default: str = "") -> str:
    if value is None:
        if required:
            raise _fail(where, field, "is missing; add it (a text in quotes)")
        return default
    if not isinstance(value, str):
        raise _fail(where, field, f"must be a text in quotes, not {type(value).__name__} {value!r}")
    if len(value) > MAX_TEXT and field not in ("consent",):
        raise _fail(where, field, f"is {len(value)} characters long; keep it to {MAX_TEXT}")
    return value


def _identifier(where: str, field: str, value: object) -> str:
    text = _text(where, field, value, required=True)
    if not ID_PATTERN.fullmatch(text):
        raise _fail(where, field, f"{text!r} is not a valid id: use 1-40 letters, digits, '-' or '_', "
                                  "starting with a letter or digit")
    return text


def _seconds(where: str, field: str, value: object, default: float, low: float, high: float) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _fail(where, field, f"must be a number of seconds from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _media(where: str, field: str, value: object, base: Path, suffixes: tuple[str, ...] | None,
           check: bool = True) -> Path:
    text = _text(where, field, value, required=True)
    path = (base / text).resolve()
    if check and not path.is_file():
        raise _fail(where, field, f"{text!r} does not exist (looked for {path}); paths are relative to the study file")
    if suffixes and path.suffix.lower() not in suffixes:
        raise _fail(where, field, f"{text!r} is not a sound file emoplay can play ({', '.join(suffixes)}); "
                                  "convert it, e.g. to .ogg or .wav")
    return path


def _unknown(where: str, table: dict, allowed: set[str], prefix: str = "") -> None:
    extra = sorted(set(table) - allowed)
    if extra:
        hint = ""
        if "stimulus" in extra:
            hint = " (stimuli are [[stimuli]] tables)"
        raise _fail(where, prefix + extra[0], f"is not a study field{hint}; the fields are {', '.join(sorted(allowed))}")


def parse_study(data: dict, path: Path, check_media: bool = True) -> StudySpec:
    """Validate a parsed TOML document; ``path`` is the study file (media paths are relative to it).

    ``check_media=False`` skips checking that the media files exist (a report made away from the videos).
    """
    where = str(path)
    base = path.parent
    _unknown(where, data, _TOP_FIELDS)
    study_id = _identifier(where, "id", data.get("id"))
    title = _text(where, "title", data.get("title"), default=study_id)
    order = data.get("order", "fixed")
    if order not in ORDERS:
        raise _fail(where, "order", f"must be \"fixed\" or \"shuffled\", got {order!r}")
    calibration = data.get("calibration", True)
    if not isinstance(calibration, bool):
        raise _fail(where, "calibration", f"must be true or false, got {calibration!r}")
    groups = data.get("groups", [])
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() for g in groups):
        raise _fail(where, "groups", "must be a list of non-empty texts, e.g. [\"18-29\", \"30-49\", \"50+\"]")
    if len(set(groups)) != len(groups):
        raise _fail(where, "groups", "lists a group twice")
    if POOLED_GROUP in groups:
        raise _fail(where, "groups", f"{POOLED_GROUP!r} is reserved: the report uses it for all participants "
                                     "pooled; name that group otherwise, e.g. \"everyone\"")
    for i, g in enumerate(groups):
        _text(where, f"groups[{i}]", g)
    stimuli_data = data.get("stimuli")
    if not isinstance(stimuli_data, list) or not stimuli_data:
        raise _fail(where, "stimuli", "is missing: add at least one [[stimuli]] table with id and file")
    stimuli: list[Stimulus] = []
    for i, item in enumerate(stimuli_data):
        field = f"stimuli[{i}]"
        if not isinstance(item, dict):
            raise _fail(where, field, "must be a [[stimuli]] table with id and file")
        _unknown(where, item, _STIMULUS_FIELDS, prefix=f"{field}.")
        sid = _identifier(where, f"{field}.id", item.get("id"))
        if any(s.id == sid for s in stimuli):
            raise _fail(where, f"{field}.id", f"{sid!r} is used by two stimuli; each id must be unique")
        audio = item.get("audio")
        file = _media(where, f"{field}.file", item.get("file"), base, None, check_media)
        seconds = item.get("seconds")
        if file.suffix.lower() in IMAGE_SUFFIXES:
            if seconds is None:
                raise _fail(where, f"{field}.seconds", f"is missing: {file.name} is a still image; say how long to "
                                                       "show it, e.g. seconds = 8")
            seconds = _seconds(where, f"{field}.seconds", seconds, 0.0, 0.5, 600.0)
        elif seconds is not None:
            raise _fail(where, f"{field}.seconds", f"is only for still images ({', '.join(IMAGE_SUFFIXES)}); a video "
                                                   "plays to its end: remove it, or cut the video")
        stimuli.append(Stimulus(
            id=sid, file=file,
            title=_text(where, f"{field}.title", item.get("title"), default=sid),
            audio=None if audio is None else _media(where, f"{field}.audio", audio, base, AUDIO_SUFFIXES, check_media),
            seconds=seconds,
        ))
    return StudySpec(
        path=path, id=study_id, title=title, stimuli=tuple(stimuli), order=order, calibration=calibration,
        calibration_seconds=_seconds(where, "calibration_seconds", data.get("calibration_seconds"), 3.0, 1.0, 30.0),
        rest_seconds=_seconds(where, "rest_seconds", data.get("rest_seconds"), 5.0, 0.0, 600.0),
        fixation_seconds=_seconds(where, "fixation_seconds", data.get("fixation_seconds"), 0.0, 0.0, 60.0),
        groups=tuple(groups), researcher=_text(where, "researcher", data.get("researcher")),
        consent=_text(where, "consent", data.get("consent")),
    )


def load_study(path: str | Path, check_media: bool = True) -> StudySpec:
    """Read and validate a study file; :class:`StudySpecError` names the field that is wrong."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path).resolve()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StudySpecError(f"study file {path} does not exist; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StudySpecError(f"cannot read study file {path}: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise StudySpecError(f"{path} is not valid TOML: {exc}") from None
    return parse_study(data, path, check_media)
