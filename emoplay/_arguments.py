"""argparse types the commands share: a bad value is a one-line usage error (exit code 2), not a traceback."""

from __future__ import annotations

import argparse
import math

from .detection._detector import RANGES as DETECTOR_RANGES  # DetectorOptions.range


def add_detector_range_argument(parser: argparse.ArgumentParser) -> None:
    """``--detector-range``, for every command that finds faces in frames (DetectorOptions.range)."""
    parser.add_argument("--detector-range", choices=DETECTOR_RANGES, default="short",
                        help="face detector: short (a face near the camera; default), full (faces 2-5 m away: a "
                             "couch, a party, a group; about twice the detector's work) or auto (full range until "
                             "only large faces are held)")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    value = _finite(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {value:g}")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value:g}")
    return value


def _finite(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value
