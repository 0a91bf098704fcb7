"""How far each face detector range reaches, and what ``range="auto"`` does on the shared videos.

Prints two tables:

1. faces found against face height, for the short- and full-range models: each of the group-frame face
   sources (CK+ crops and faces cut from the shared videos, ``record_detector_reference.face_sources``)
   pasted alone on a 1280x720 grey frame at 5 places, the face's box height given as a share of the
   frame's longer side (what the letterboxed model input sees) and in pixels;
2. per shared video, every frame through ``DetectorOptions(range=...)`` for short, full and auto: the
   frames with a face found, and for auto the share of frames that ran the full-range model and the frames
   where auto found fewer faces than full range alone.

    python models/detector_ranges.py
"""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARES = (0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.12, 0.14, 0.16, 0.20, 0.25)
PLACES = ((0.5, 0.5), (0.2, 0.3), (0.8, 0.3), (0.2, 0.7), (0.8, 0.7))  # face centre, fractions of the frame


def _recorder():
    spec = importlib.util.spec_from_file_location("record_detector_reference", REPO / "models" /
                                                  "record_detector_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reach_table(ckplus: Path, videos: Path) -> list[str]:
    import cv2

    from emoplay.detection import DetectorOptions, FaceDetector

    sources = _recorder().face_sources(ckplus, videos)
    width, height = 1280, 720
    detectors = {r: FaceDetector(DetectorOptions(video_mode=False, range=r, min_face_size=1)) for r in ("short", "full")}
    lines = [f"faces found of {len(sources) * len(PLACES)} (1280x720 frame, one face, {len(PLACES)} places)",
             "face / longer side   face px   short   full"]
    for share in SHARES:
        face_px = share * width
        found = {r: 0 for r in detectors}
        for _, crop, crop_share in sources:
            side = int(round(face_px / crop_share))
            big = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if side < crop.shape[0] else
                             cv2.INTER_CUBIC)
            for cx, cy in PLACES:
                frame = np.full((height, width), 128, np.uint8)
                left = int(np.clip(cx * width - side / 2, 0, width - side))
                top = int(np.clip(cy * height - side / 2, 0, height - side))
                frame[top:top + side, left:left + side] = big
                rgb = cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)
                for r, detector in detectors.items():
                    found[r] += len(detector.detect(rgb)) > 0
        lines.append(f"{share:19.2f}   {face_px:7.0f}   {found['short']:5d}   {found['full']:4d}")
    for detector in detectors.values():
        detector.close()
    return lines


def auto_table(videos: Path) -> list[str]:
    import cv2

    from emoplay.detection import DetectorOptions, FaceDetector

    lines = ["video                  frames   with a face: short   full   auto   auto on full   auto < full"]
    for path in sorted(p for p in videos.iterdir() if p.suffix in (".mp4", ".mov")):
        detectors = {r: FaceDetector(DetectorOptions(range=r)) for r in ("short", "full", "auto")}
        capture = cv2.VideoCapture(str(path))
        frames, with_face, auto_full, auto_fewer = 0, dict.fromkeys(detectors, 0), 0, 0
        fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                counts = {r: len(d.detect(bgr, frames / fps, color_order="bgr")) for r, d in detectors.items()}
                for r, n in counts.items():
                    with_face[r] += n > 0
                auto_full += detectors["auto"].last_range == "full"
                auto_fewer += counts["auto"] < counts["full"]
                frames += 1
        finally:
            capture.release()
            for detector in detectors.values():
                detector.close()
        lines.append(f"{path.name:22s} {frames:6d}   {with_face['short']:18d}   {with_face['full']:4d}   "
                     f"{with_face['auto']:4d}   {auto_full / frames:12.0%}   {auto_fewer:11d}")
    return lines


def shared_data_parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by ``doc``'s first line, with --videos and --ckplus (the shared data by default)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    shared = REPO.parent / "shared" / "data"
    parser.add_argument("--videos", type=Path, default=shared / "videos")
    parser.add_argument("--ckplus", type=Path, default=shared / "ckplus")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = shared_data_parser(__doc__).parse_args(argv)
    print("\n".join(reach_table(args.ckplus, args.videos)))
    print()
    print("\n".join(auto_table(args.videos)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
