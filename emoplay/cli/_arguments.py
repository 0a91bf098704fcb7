"""What several commands share: argparse types (a bad value is a one-line usage error, exit code 2, not a
traceback), the source and camera options of the commands that run a Sensor, the camera consent question,
and the session-log key options."""

from __future__ import annotations

import argparse
import getpass
import math
import os
import re
import sys
from pathlib import Path
from typing import Callable

from .._errors import LogError
from .._private_files import readable_by_others
from ..detection._detector import RANGES as DETECTOR_RANGES  # DetectorOptions.range
from ..sessionlog import LogKey


def add_detector_range_argument(parser: argparse.ArgumentParser, tiles: bool = True) -> None:
    """``--detector-range`` (DetectorOptions.range), for every command that finds faces in frames, and unless
    ``tiles`` is False ``--detector-tiles`` (DetectorOptions.tiles; :func:`check_detector_arguments`)."""
    parser.add_argument("--detector-range", choices=DETECTOR_RANGES, default="short",
                        help="face detector: short (a face near the camera; default), full (faces 2-5 m away: a "
                             "couch, a party, a group; about twice the detector's work) or auto (full range until "
                             "only large faces are held)" + ("; for faces of 50-90 px in a large frame add "
                                                             "--detector-tiles auto" if tiles else ""))
    if tiles:
        parser.add_argument("--detector-tiles", type=detector_tiles, default="off", metavar="off|auto|COLSxROWS",
                            help="with --detector-range full or auto: also run the detector on overlapping tiles "
                                 "of the frame, for faces of 50-90 px in a large frame (a group at a table); auto "
                                 "picks the grid (4x2 for 1280x720, about 7 times the detector's work per frame "
                                 "there; 6x3 for 1920x1080, about 14 times); default off")


def detector_tiles(text: str) -> str | tuple[int, int]:
    """--detector-tiles: "off", "auto" or COLSxROWS (e.g. 3x2) -> DetectorOptions.tiles."""
    from ..detection import parse_tiles

    try:
        return parse_tiles(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def check_detector_arguments(args: argparse.Namespace) -> str | None:
    """What is wrong with --detector-range and --detector-tiles together, or None (DetectorOptions' own rule,
    said in the command line's words)."""
    from ..detection._tiles import check_tiles

    try:
        check_tiles(getattr(args, "detector_tiles", "off"), args.detector_range)
    except ValueError:  # the values parsed already: only the pairing with short range can be wrong
        return ("--detector-tiles runs the full-range detector on tiles: add --detector-range full (or auto), or "
                "leave --detector-tiles off")
    return None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def at_most(high: float, parse=positive_int, unit: str = ""):
    """An argparse type: ``parse``'s value (a whole number of at least 1 by default), no more than ``high``."""
    def parse_at_most(text: str):
        value = parse(text)
        if value > high:
            raise argparse.ArgumentTypeError(f"must be at most {high:g}{unit}, got {value:g}")
        return value
    return parse_at_most


def thread_count(text: str) -> int:
    """--threads: 1 to the number of CPUs this process may use (more only makes inference wait for itself)."""
    value = positive_int(text)
    cpus = available_cpus()
    if value > cpus:
        raise argparse.ArgumentTypeError(f"at most {cpus}, the CPUs this process may use; got {value}")
    return value


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The source, camera and consent options of the commands that run a Sensor (watch, serve)."""
    parser.add_argument("--source", default="camera", help="'camera', a camera index, /dev/videoN, a video file or "
                                                           "a folder of images (default: camera)")
    parser.add_argument("--realtime", action="store_true", help="play video files at their own speed")
    parser.add_argument("--width", type=positive_int, help="camera: requested frame width")
    parser.add_argument("--height", type=positive_int, help="camera: requested frame height")
    parser.add_argument("--fps", type=positive_float, help="camera: requested frame rate")
    parser.add_argument("--threads", type=thread_count, default=1, help="onnxruntime threads (default 1)")
    add_stability_argument(parser)
    parser.add_argument("--signal-hz", type=_signal_hz, default=0.0, metavar="HZ",
                        help="also send each face's FaceSignal (smoothed probabilities, valence, arousal) HZ times "
                             "a second of stream time, at most 60 (default 0: off)")
    add_detector_range_argument(parser)
    parser.add_argument("--yes", "--consent", dest="yes", action="store_true",
                        help="the user consents to the camera (no prompt)")


def _signal_hz(text: str) -> float:
    from ..sensor._sensor import MAX_SIGNAL_HZ

    value = non_negative_float(text)
    if value > MAX_SIGNAL_HZ:
        raise argparse.ArgumentTypeError(f"at most {MAX_SIGNAL_HZ:g} signals a second, got {value:g}")
    return value


def add_stability_argument(parser: argparse.ArgumentParser) -> None:
    """--stability: the preset that decides when a face's emotion changes (watch, serve, study run)."""
    from ..pipeline._debounce import DEFAULT_STABILITY, STABILITY_PRESETS

    parser.add_argument("--stability", choices=list(STABILITY_PRESETS), default=None,
                        help="when a face's emotion changes: responsive (a clean change within ~0.3 s, flickers on "
                             "a talking face), balanced (~0.4 s), dialogue (only sustained expressions: ~0.5 s from a "
                             "settled face, ~1.5-2 s right after talk, then each new emotion held at least 4 s); "
                             f"default {DEFAULT_STABILITY}")


def sensor_options_from_args(args: argparse.Namespace, **options: object):
    """SensorOptions from add_source_arguments' options, plus ``options``."""
    from ..detection import DetectorOptions
    from ..pipeline import ClassifierOptions, PipelineOptions
    from ..sensor import SensorOptions

    source = "camera" if args.source == "camera" else args.source
    pipeline = PipelineOptions(classifier=ClassifierOptions(threads=args.threads),
                               detector=DetectorOptions(range=args.detector_range, tiles=args.detector_tiles))
    return SensorOptions(source=source, realtime=args.realtime, width=args.width, height=args.height, fps=args.fps,
                         pipeline=pipeline, stability=args.stability, signal_hz=args.signal_hz, **options)


def ask_camera_consent(sensor, yes: bool) -> int | None:
    """For a live source: record consent (--yes, or a y/N prompt on a terminal); an exit code if refused."""
    if not sensor.source.is_live:
        return None
    if not yes:
        if not sys.stdin.isatty():
            print("emoplay: the camera opens only with consent: pass --yes to confirm", file=sys.stderr)
            return 2
        try:
            answer = input("emoplay will use your camera to read facial expressions on this machine only. "
                           "Start the camera? [y/N] ")
        except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the question: no
            print(file=sys.stderr)
            return 1
        if answer.strip().lower() not in ("y", "yes"):
            return 1
    sensor.grant_consent()
    return None


class _RefusePassphrase(argparse.Action):
    """``--passphrase X`` exists only to refuse it (and to stop argparse reading it as an
    abbreviation of ``--passphrase-env``): arguments end up in shell history and ``ps``."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        parser.error(
            "a passphrase is never taken as an argument (it would show in shell history and the process "
            "list); use --passphrase-env VAR, --key-file FILE, or type it at the prompt"
        )


def add_key_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--key-file`` / ``--passphrase-env`` (mutually exclusive) to a parser."""
    group = parser.add_argument_group("log key (if neither is given, the passphrase is asked for on the terminal)")
    exclusive = group.add_mutually_exclusive_group()
    exclusive.add_argument("--key-file", metavar="FILE", type=Path, help="32-byte key file made by `emoplay log keygen`")
    exclusive.add_argument(
        "--passphrase-env", metavar="VAR", help="name of an environment variable that holds the passphrase"
    )
    parser.add_argument("--passphrase", nargs="?", action=_RefusePassphrase, help=argparse.SUPPRESS)


def key_from_args(
    args: argparse.Namespace,
    *,
    confirm: bool = False,
    prompt: Callable[[str], str] = getpass.getpass,
    isatty: Callable[[], bool] | None = None,
) -> LogKey:
    """The :class:`LogKey` the parsed key options name.

    With neither option, asks for the passphrase without echo when stdin is a
    terminal (twice when ``confirm``, as for a new log); otherwise raises
    :class:`LogError` saying which option to pass.
    """
    key_file = getattr(args, "key_file", None)
    env_name = getattr(args, "passphrase_env", None)
    if key_file is not None:
        exposed = readable_by_others(key_file)
        if exposed:
            print(f"emoplay: warning: the key file {exposed}", file=sys.stderr)
        return LogKey.from_file(key_file)
    if env_name is not None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env_name):
            # Do not echo it: someone may have typed the passphrase itself here.
            raise LogError("--passphrase-env takes the NAME of an environment variable, e.g. EMOPLAY_LOG_PASSPHRASE")
        passphrase = os.environ.get(env_name, "")
        if not passphrase:
            raise LogError(f"environment variable {env_name} is not set or is empty; it should hold the passphrase")
        return LogKey.from_passphrase(passphrase)
    if not (isatty or sys.stdin.isatty)():
        raise LogError(
            "no log key given and stdin is not a terminal to ask for a passphrase; "
            "pass --key-file FILE or --passphrase-env VAR"
        )
    passphrase = _ask(prompt, "Session log passphrase: ")
    if not passphrase:
        raise LogError("no passphrase entered")
    if confirm and _ask(prompt, "Repeat the passphrase: ") != passphrase:
        raise LogError("the two passphrases differ; nothing was written")
    return LogKey.from_passphrase(passphrase)


def _ask(prompt: Callable[[str], str], question: str) -> str:
    try:
        return prompt(question)
    except EOFError:  # Ctrl-D at the prompt
        return ""
