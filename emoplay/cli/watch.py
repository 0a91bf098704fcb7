"""``emoplay watch``: print the emotion events of a camera, video file or image folder."""

from __future__ import annotations

import argparse
import json
import sys
import time

from ._arguments import (
    add_key_arguments,
    add_source_arguments,
    ask_camera_consent,
    key_from_args,
    non_negative_float,
    sensor_options_from_args,
)


def register(subparsers) -> None:
    watch = subparsers.add_parser("watch", help="print emotion events from a camera, video file or image folder",
                                  allow_abbrev=False)
    add_source_arguments(watch)
    watch.add_argument("--json", action="store_true", help="one JSON object per event and line")
    watch.add_argument("--max-seconds", type=non_negative_float, default=0,
                       help="stop after this many seconds (0: never)")
    watch.add_argument("--log", metavar="FILE", help="also write an encrypted session log (events only) to FILE")
    watch.add_argument("--stills", action="store_true",
                       help="the --source folder holds separate photos, not a video's frames: print each image's "
                            "faces and emotions (automatic for a folder of fewer than 3 images)")
    add_key_arguments(watch)
    watch.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from .._errors import WorkerError
    from ..sensor._sensor import Sensor

    stills = _stills_of(args)
    if stills is not None:
        from .stills import print_stills

        return print_stills(stills, args.threads, args.json)
    options = sensor_options_from_args(args)
    key = None
    if args.log:
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


def _stills_of(args: argparse.Namespace):
    """The images to read as separate photos: all of a folder's with --stills, or of a folder too small to be
    a video's frames (a face is confirmed after a few frames in a row); else None (watch runs a stream)."""
    from pathlib import Path

    from .._errors import EmoplayError
    from .stills import image_files
    from ..pipeline._track import TrackerOptions

    folder = Path(args.source)
    if args.source == "camera" or not folder.is_dir():
        if args.stills:
            raise EmoplayError(f"--stills reads a folder of images; {args.source} is not a folder")
        return None
    files = image_files(folder)
    needed = TrackerOptions().confirm_hits
    if args.stills or 0 < len(files) < needed:
        if not args.stills:
            print(f"emoplay: {folder} holds {len(files)} image(s), too few to follow a face over frames (a face is "
                  f"confirmed after {needed} in a row): reading each as a separate photo (--stills)", file=sys.stderr)
        return files
    return None


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


def _print_event(event: object, as_json: bool) -> None:
    from .._events import CameraStateChanged, EmotionChanged, FaceFound, FaceLost, FaceSignal, SensorFailed
    from .._event_dicts import event_to_dict

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

