"""Validation of option values: finite numbers in a range, with a message that says what to pass.

Plain comparisons let NaN through (``nan <= 0`` and ``nan > 0`` are both false), so every option
dataclass checks its numbers here, in ``__post_init__``.
"""

from __future__ import annotations

import math
import numbers


MAX_THREADS = 256  # inference threads an option may ask for: far more than any CPU offers, far fewer than would hang


def check_number(owner: str, name: str, value: object, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False, integer: bool = False,
                 optional: bool = False) -> None:
    """Raise ValueError/TypeError unless ``value`` is a finite (integer) number within the given bounds."""
    if value is None and optional:
        return
    kind = "an integer" if integer else "a number"
    where = f"{owner}.{name}"
    if not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be {kind}{' or None' if optional else ''}, got {value!r}")
    if isinstance(value, bool) or (integer and not isinstance(value, numbers.Integral)):
        raise ValueError(f"{where} must be {kind}, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}; pass a real value such as the default")
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if too_low or too_high:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        raise ValueError(f"{where} must be {' and '.join(p for p in (lo, hi) if p)}, got {value!r}")


def check_flag(owner: str, name: str, value: object) -> None:
    """Raise TypeError unless ``value`` is True or False (a string such as "no" would act as True)."""
    if not isinstance(value, bool):
        raise TypeError(f"{owner}.{name} must be True or False, got {value!r}")


def check_timestamp(what: str, value: object, previous: float | None, new_stream: str) -> float:
    """``value`` as seconds; ValueError unless it is a finite number no earlier than ``previous`` (the stream's last
    timestamp, or None). ``new_stream`` says how the caller begins a new stream, whose clock may start again."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds):
        raise ValueError(f"{what} must be a finite number of seconds, got {value!r}")
    if previous is not None and seconds < previous:
        raise ValueError(f"{what} {seconds!r} is earlier than the previous frame's {previous!r}: timestamps of one "
                         f"stream must not go backwards ({new_stream})")
    return seconds
