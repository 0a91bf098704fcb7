"""``emoplay doctor``: what this machine has, and how fast each stage runs on it.

It opens no camera unless asked with ``--probe-cameras``: probing opens each device (its light may come
on), which needs the user's consent like any other camera use.
"""

from __future__ import annotations

import argparse
import json
import platform
from importlib import metadata

import numpy as np

from .._errors import EmoplayError
from .._model_files import models_dir, runtime_checksums, sha256_of
from .._timing import median_ms
from ._arguments import positive_int


def register(subparsers) -> None:
    doctor = subparsers.add_parser("doctor", help="list cameras, check model files, time each stage on this machine")
    doctor.add_argument("--json", action="store_true")
    doctor.add_argument("--probe-cameras", action="store_true",
                        help="open camera indices 0..--max-cameras-1 to list them (only with the user's consent: "
                             "opening a camera may switch on its light); without it no camera is touched")
    doctor.add_argument("--max-cameras", type=positive_int, default=4, help="camera indices to probe (default 4)")
    doctor.set_defaults(func=run)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for dist in ("emoplay", "numpy", "opencv-contrib-python", "opencv-python", "onnxruntime",
                 "cryptography", "pygame"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def _cameras(max_index: int) -> list[dict]:
    import cv2

    from .._quiet_opencv import quiet_opencv

    with quiet_opencv():  # OpenCV logs every failed probe at WARN level
        return _probe(cv2, max_index)


def _probe(cv2, max_index: int) -> list[dict]:
    found = []
    for index in range(max_index):
        cap = cv2.VideoCapture(index)
        try:
            if cap.isOpened():
                found.append({"index": index, "width": int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
                              "height": int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)), "fps": cap.get(cv2.CAP_PROP_FPS)})
        finally:
            cap.release()
    return found


def _models() -> list[dict]:
    folder = models_dir()
    rows = []
    for name, expected in sorted(runtime_checksums(folder).items()):
        path = folder / name
        actual = sha256_of(path) if path.exists() else None
        rows.append({"file": str(path), "ok": actual == expected,
                     "status": "ok" if actual == expected else ("missing" if actual is None else "CHECKSUM MISMATCH")})
    return rows


def stage_timings() -> dict[str, float]:
    """Median milliseconds per stage on a synthetic 640x480 frame, one thread."""
    from ..pipeline._classify import EmotionClassifier
    from ..detection import DetectorOptions, FaceDetector
    from .._frames import to_rgb_and_gray

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    faces = rng.integers(0, 256, (4, 48, 48), dtype=np.uint8)
    rgb, gray = to_rgb_and_gray(frame)
    out = {"colour conversion (640x480)": median_ms(lambda: to_rgb_and_gray(frame))}
    with FaceDetector(DetectorOptions(video_mode=False)) as detector:
        out["face detection (640x480)"] = median_ms(lambda: detector.detect(rgb))
    with EmotionClassifier() as classifier:
        box = np.array([[220, 140, 200, 200]])
        out["crop + resize (1 face)"] = median_ms(lambda: classifier.crop_faces(gray, box))
        out["classification (1 face)"] = median_ms(lambda: classifier.classify_crops(faces[:1]))
        out["classification (4 faces)"] = median_ms(lambda: classifier.classify_crops(faces))
    return out


def _telemetry() -> str:
    import os
    import sys

    from .._onnxruntime import TELEMETRY_ENV

    value = os.environ.get(TELEMETRY_ENV)
    if "onnxruntime" in sys.modules and value != "1":
        return f"onnxruntime telemetry may be ON: {TELEMETRY_ENV} was {value!r} when onnxruntime was imported"
    if value not in (None, "1"):
        return f"onnxruntime telemetry ON: {TELEMETRY_ENV}={value!r} overrides emoplay's default"
    return f"onnxruntime telemetry off ({TELEMETRY_ENV}=1, set by emoplay before importing onnxruntime)"


def run(args: argparse.Namespace) -> int:
    report: dict = {"versions": _versions(), "models_dir": str(models_dir()), "telemetry": _telemetry()}
    problems = 0
    try:
        report["models"] = _models()
        problems += sum(not m["ok"] for m in report["models"])
    except EmoplayError as e:
        report["models"] = []
        report["model_error"] = str(e)
        problems += 1
    probe = getattr(args, "probe_cameras", False)
    report["cameras_probed"] = bool(probe)
    report["cameras"] = _cameras(args.max_cameras) if probe else None
    if problems == 0:
        report["timings_ms"] = stage_timings()
    if args.json:
        print(json.dumps(report, indent=1))
        return 0 if problems == 0 else 2
    print("versions:")
    for k, v in report["versions"].items():
        print(f"  {k:24} {v}")
    print(f"privacy: {report['telemetry']}")
    print("models:")
    for m in report["models"]:
        print(f"  {m['status']:18} {m['file']}")
    if "model_error" in report:
        print(f"  {report['model_error']}")
    print("cameras:")
    if not probe:
        print("  not probed: opening a camera needs consent; run `emoplay doctor --probe-cameras` to list them")
    elif report["cameras"]:
        for c in report["cameras"]:
            print(f"  index {c['index']}: {c['width']}x{c['height']} @ {c['fps']:.0f} fps")
    else:
        print(f"  none found (probed indices 0-{args.max_cameras - 1}); use --source FILE or a folder of images")
    if "timings_ms" in report:
        print("timings on this machine (median, one thread):")
        for k, v in report["timings_ms"].items():
            print(f"  {k:30} {v:7.3f} ms")
    return 0 if problems == 0 else 2
