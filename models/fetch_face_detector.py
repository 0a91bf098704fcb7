"""Reproduce models/face_detector.tflite and models/face_detector_full_range.tflite from the package registry.

MediaPipe 1.x bundles no models; the BlazeFace detectors we use, short range
and full range, are the ones shipped inside the mediapipe 0.10.21 wheel
(Apache-2.0, see models/LICENSE-face_detector.txt). This script downloads that
wheel with pip (no dependencies, nothing installed), extracts a model and
checks its sha256.

    python models/fetch_face_detector.py [--range short|full] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_VERSION = "0.10.21"
MODELS = {  # --range: (member of the wheel, its sha256, the file in models/)
    "short": ("mediapipe/modules/face_detection/face_detection_short_range.tflite",
              "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8", "face_detector.tflite"),
    "full": ("mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
             "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1", "face_detector_full_range.tflite"),
}


def fetch(out: Path, model_range: str = "short") -> Path:
    member, expected, _ = MODELS[model_range]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"mediapipe=={WHEEL_VERSION}", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
             "--dest", tmp, "--quiet"],
            check=True,
        )
        wheel = next(Path(tmp).glob("mediapipe-*.whl"))
        data = zipfile.ZipFile(wheel).read(member)
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        raise SystemExit(f"{member} in {wheel.name} has sha256 {digest}, expected {expected}")
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes, sha256 {digest})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--range", choices=sorted(MODELS), default="short", help="which model (default short)")
    parser.add_argument("--out", type=Path, help="where to write it (default: models/, by --range)")
    args = parser.parse_args(argv)
    fetch(args.out or Path(__file__).resolve().parent / MODELS[args.range][2], args.range)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
