"""Events as plain JSON-ready dicts (CLI output, logs)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any, Mapping


def event_to_dict(event: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"event": type(event).__name__}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if isinstance(value, BaseException):
            continue
        if isinstance(value, enum.Enum):
            value = value.value
        elif isinstance(value, float):
            value = round(value, 4)
        elif isinstance(value, Mapping):
            value = {k: round(v, 4) for k, v in value.items()}
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out
