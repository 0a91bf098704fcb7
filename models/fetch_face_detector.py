"""Reproduce models/face_detector.tflite from the package registry.

MediaPipe 1.x bundles no models; the short-range BlazeFace detector we use is
the one shipped inside the mediapipe 0.10.21 wheel (Apache-2.0, see
models/LICENSE-face_detector.txt). This script downloads that wheel with pip
(no dependencies, nothing installed), extracts the model and checks its sha256.

    python models/fetch_face_detector.py [--out models/face_detector.tflite]
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
MEMBER = "mediapipe/modules/face_detection/face_detection_short_range.tflite"
SHA256 = "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8"


def fetch(out: Path) -> Path:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", f"mediapipe=={WHEEL_VERSION}", "--no-deps",
             "--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux_2_28_x86_64",
             "--dest", tmp, "--quiet"],
            check=True,
        )
        wheel = next(Path(tmp).glob("mediapipe-*.whl"))
        data = zipfile.ZipFile(wheel).read(MEMBER)
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"{MEMBER} in {wheel.name} has sha256 {digest}, expected {SHA256}")
    out.write_bytes(data)
    print(f"wrote {out} ({len(data)} bytes, sha256 {digest})")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "face_detector.tflite")
    fetch(parser.parse_args(argv).out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
