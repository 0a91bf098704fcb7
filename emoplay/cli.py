"""The ``emoplay`` command: watch, doctor, and the subcommands of eval, log and bench.

Thin by design: parse arguments, call the library, print. Only ``EmoplayError``
is caught; it becomes one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from importlib import import_module

from ._arguments import add_detector_range_argument, non_negative_float, positive_float, positive_int
from ._errors import EmoplayError

# Modules that add subcommands with register(subparsers).
_SUBCOMMAND_MODULES = (".evaluation._cli", ".sessionlog._cli", "._cli_bench", ".bridge.cli", ".explain._cli", ".study.cli")


def _watch(args: argparse.Namespace) -> int:
    from ._errors import WorkerError
    from .sensor._sensor import Sensor

    options = sensor_options_from_args(args)
    key = None
    if args.log:
        from .sessionlog._cli import key_from_args

        key = key_from_args(args, confirm=True)
    with Sensor(options) as sensor:
        refused = ask_camera_consent(sensor, args.yes)
        if refused is not None:
            return refused
        try:
            sensor.start()
            if key is not None:  # after start(): a source that does not open leaves no empty log behind
                sensor.start_log(args.log, key)  # the events queued meanwhile are logged by the next poll()
            return _watch_events(sensor, args)
        except WorkerError as error:  # the source or the model failed mid-stream: its last events still count
            for event in error.events:
                _print_event(event, args.json)
            return 1
        except KeyboardInterrupt:  # Ctrl-C, also while the models load or the source opens
            sensor.stop()
            for event in sensor.poll():
                _print_event(event, args.json)
            return 0


def _watch_events(sensor, args: argparse.Namespace) -> int:
    """Print the sensor's events until its stream ends, --max-seconds pass, or it fails (WorkerError)."""
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    while True:
        # This terminal is the camera indicator: state changes are printed as they happen.
        sensor.heartbeat()
        for event in sensor.poll():
            _print_event(event, args.json)
        if not sensor.running and sensor.camera_state.value in ("off", "error"):
            for event in sensor.poll():
                _print_event(event, args.json)
            return 0
        if deadline is not None and time.monotonic() > deadline:
            sensor.stop()
            for event in sensor.poll():
                _print_event(event, args.json)
            return 0
        time.sleep(0.01)


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


def _print_event(event: object, as_json: bool) -> None:
    from ._events import CameraStateChanged, EmotionChanged, FaceFound, FaceLost, FaceSignal, SensorFailed
    from ._jsonable import event_to_dict

    if as_json:
        print(json.dumps(event_to_dict(event)), flush=True)
        return
    t = f"{getattr(event, 'timestamp', 0.0):8.2f}s"
    if isinstance(event, EmotionChanged):
        line = f"{t}  face {event.track_id}: {event.previous} -> {event.current} ({event.confidence:.2f})"
    elif isinstance(event, FaceFound):
        line = f"{t}  face {event.track_id} found at {event.box}" + (" (primary)" if event.is_primary else "")
    elif isinstance(event, FaceLost):
        line = f"{t}  face {event.track_id} lost"
    elif isinstance(event, CameraStateChanged):  # on the sensor's clock, not the stream's: no time shown
        line = f"{'':9}  camera {event.current.value}: {event.reason}"
    elif isinstance(event, FaceSignal):
        line = (f"{t}  face {event.track_id}: {event.emotion}, valence {event.valence:+.2f}, "
                f"arousal {event.arousal:+.2f}")
    elif isinstance(event, SensorFailed):
        line = f"{t}  error: {event.message}"
    elif type(event).__name__ == "PrimaryFaceChanged":
        line = f"{t}  primary face: {event.current if event.current is not None else 'none'}"
    elif type(event).__name__ == "EventsDropped":
        line = f"{t}  {event.count} events dropped (the host polled too rarely)"
    else:
        line = f"{t}  {event}"
    print(line, flush=True)


def _doctor(args: argparse.Namespace) -> int:
    from ._doctor import run_doctor

    return run_doctor(args)


def add_source_arguments(parser: argparse.ArgumentParser) -> None:
    """The source, camera and consent options of the commands that run a Sensor (watch, serve)."""
    parser.add_argument("--source", default="camera", help="'camera', a camera index, /dev/videoN, a video file or "
                                                           "a folder of images (default: camera)")
    parser.add_argument("--realtime", action="store_true", help="play video files at their own speed")
    parser.add_argument("--width", type=positive_int, help="camera: requested frame width")
    parser.add_argument("--height", type=positive_int, help="camera: requested frame height")
    parser.add_argument("--fps", type=positive_float, help="camera: requested frame rate")
    parser.add_argument("--threads", type=positive_int, default=1, help="onnxruntime threads (default 1)")
    add_stability_argument(parser)
    parser.add_argument("--signal-hz", type=_signal_hz, default=0.0, metavar="HZ",
                        help="also send each face's FaceSignal (smoothed probabilities, valence, arousal) HZ times "
                             "a second of stream time, at most 60 (default 0: off)")
    add_detector_range_argument(parser)
    parser.add_argument("--yes", "--consent", dest="yes", action="store_true",
                        help="the user consents to the camera (no prompt)")


def _signal_hz(text: str) -> float:
    from .sensor._sensor import MAX_SIGNAL_HZ

    value = non_negative_float(text)
    if value > MAX_SIGNAL_HZ:
        raise argparse.ArgumentTypeError(f"at most {MAX_SIGNAL_HZ:g} signals a second, got {value:g}")
    return value


def add_stability_argument(parser: argparse.ArgumentParser) -> None:
    """--stability: the preset that decides when a face's emotion changes (watch, serve, study run)."""
    from .pipeline._debounce import DEFAULT_STABILITY, STABILITY_PRESETS

    parser.add_argument("--stability", choices=list(STABILITY_PRESETS), default=None,
                        help="when a face's emotion changes: responsive (a clean change in ~0.25 s, flickers on a "
                             "talking face), balanced, dialogue (only sustained expressions, ~0.4 s); "
                             f"default {DEFAULT_STABILITY}")


def sensor_options_from_args(args: argparse.Namespace, **options: object):
    """SensorOptions from add_source_arguments' options, plus ``options``."""
    from .detection import DetectorOptions
    from .pipeline._classify import ClassifierOptions
    from .pipeline._pipeline import PipelineOptions
    from .sensor._sensor import SensorOptions

    source = "camera" if args.source == "camera" else args.source
    pipeline = PipelineOptions(classifier=ClassifierOptions(threads=args.threads),
                               detector=DetectorOptions(range=args.detector_range))
    return SensorOptions(source=source, realtime=args.realtime, width=args.width, height=args.height, fps=args.fps,
                         pipeline=pipeline, stability=args.stability, signal_hz=args.signal_hz, **options)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emoplay", description="On-device facial emotion events for games.",
                                     allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"emoplay {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    watch = sub.add_parser("watch", help="print emotion events from a camera, video file or image folder",
                           allow_abbrev=False)
    add_source_arguments(watch)
    watch.add_argument("--json", action="store_true", help="one JSON object per event and line")
    watch.add_argument("--max-seconds", type=non_negative_float, default=0,
                       help="stop after this many seconds (0: never)")
    watch.add_argument("--log", metavar="FILE", help="also write an encrypted session log (events only) to FILE")
    try:
        from .sessionlog._cli import add_key_arguments

        add_key_arguments(watch)
    except ImportError:
        pass
    watch.set_defaults(func=_watch)

    doctor = sub.add_parser("doctor", help="list cameras, check model files, time each stage on this machine")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--probe-cameras", action="store_true",
                        help="open camera indices 0..--max-cameras-1 to list them (only with the user's consent: "
                             "opening a camera may switch on its light); without it no camera is touched")
    doctor.add_argument("--max-cameras", type=positive_int, default=4, help="camera indices to probe (default 4)")
    doctor.set_defaults(func=_doctor)

    for name in _SUBCOMMAND_MODULES:
        try:
            module = import_module(name, __package__)
        except ModuleNotFoundError as e:
            if e.name and e.name.endswith(name.lstrip(".")):
                continue
            raise
        module.register(sub)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EmoplayError as e:
        print(f"emoplay: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader of our output left (`emoplay log show F | head`): stop quietly
        _quiet_stdout()
        return 1
    except KeyboardInterrupt:  # Ctrl-C before a command could take it (imports, model loading)
        return 130


def _quiet_stdout() -> None:
    """Point stdout at the null device, so that the interpreter's last flush does not fail on the closed pipe."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


if __name__ == "__main__":
    raise SystemExit(main())
