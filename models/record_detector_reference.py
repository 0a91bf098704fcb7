"""Record MediaPipe's face detections as the reference for emoplay's own BlazeFace detector.

Runs the MediaPipe Tasks ``FaceDetector`` (the code path emoplay used before it
ran the model itself: the same ``face_detector.tflite``, ``min_detection_confidence``
0.5, ``min_suppression_threshold`` 0.3) on

* every ``--every``-th frame of each video in ``shared/data/videos/``, at the
  video's own size, and
* ``--fer`` FER2013 val faces, upscaled (bicubic) to a random side of 100-320 px
  and put at a random place in a 640x480 frame whose rest is the face's
  replicated border (as ``make_fullframe_set.py`` frames a face, but off-centre),
  and ``--pairs`` 640x480 frames with two such faces side by side;

and writes one JSON file: per frame its source, size and mean pixel value (so a
test sees when a video decodes differently) and every detection's pixel box
``x, y, w, h`` (MediaPipe's integers, not clamped), its 6 keypoints (x, y as
fractions of the frame) and score.

IMAGE mode is used for every frame: the reference is then a function of the
frame alone, so any subset of frames can be checked. The script also runs VIDEO
mode over the same frames in order and reports whether it differs (it did not
for mediapipe 1.2.3: the face detector task does no tracking).

This is a build-time script: it needs mediapipe, which emoplay no longer
depends on (``pip install mediapipe``); mediapipe sends usage data to Google
when a detector is created, so run it offline or in a sandbox.

    python models/record_detector_reference.py --out tests/data/detector_reference.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MIN_CONFIDENCE, MIN_SUPPRESSION = 0.5, 0.3  # emoplay's DetectorOptions defaults
FER_FRAME = (640, 480)  # width, height


def video_frames(folder: Path, every: int):
    """(source dict, RGB frame) for every ``every``-th frame of each video in ``folder``."""
    import cv2

    for path in sorted(p for p in folder.iterdir() if p.suffix in (".mp4", ".mov")):
        capture = cv2.VideoCapture(str(path))
        index = 0
        try:
            while True:
                ok, bgr = capture.read()
                if not ok:
                    break
                if index % every == 0:
                    yield {"video": path.name, "frame": index}, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                index += 1
        finally:
            capture.release()


def fer_frame(face48: np.ndarray, side: int, left: int, top: int, width: int = FER_FRAME[0]) -> np.ndarray:
    """A ``width`` x 480 RGB frame: the face upscaled to ``side`` px at (left, top), the rest its replicated border."""
    import cv2

    height = FER_FRAME[1]
    big = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, top, height - top - side, left, width - left - side, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)


def fer_placements(count: int, seed: int = 10) -> list[tuple[int, int, int, int]]:
    """(val index, side, left, top) for ``count`` faces, evenly spread over val.npz."""
    rng = np.random.default_rng(seed)
    result = []
    for index in np.linspace(0, 3588, count).astype(int):
        side = int(rng.integers(100, 321))
        result.append((int(index), side, int(rng.integers(0, FER_FRAME[0] - side + 1)),
                       int(rng.integers(0, FER_FRAME[1] - side + 1))))
    return result


def fer_frames(val: Path, count: int, pairs: int):
    """``count`` frames of one face, then ``pairs`` frames of two faces side by side (each in its 320 px half)."""
    with np.load(val) as data:
        images, ids = data["images"], data["ids"]
        for index, side, left, top in fer_placements(count):
            source = {"fer": str(ids[index]), "val_index": index, "side": side, "left": left, "top": top}
            yield source, fer_frame(images[index], side, left, top)
        half = FER_FRAME[0] // 2
        placements = fer_placements(2 * pairs, seed=11)
        for first, second in zip(placements[0::2], placements[1::2]):
            halves, sources = [], []
            for index, side, _, top in (first, second):
                side = min(side, half - 20) if side > 200 else side + 100  # big enough to be found, fits the half
                left = (half - side) // 2
                top = min(top, FER_FRAME[1] - side)
                halves.append(fer_frame(images[index], side, left, top, width=half))
                sources.append({"fer": str(ids[index]), "val_index": index, "side": side, "left": left, "top": top})
            sources[1]["left"] += half
            yield {"fer_pair": sources}, np.ascontiguousarray(np.concatenate(halves, axis=1))


def mediapipe_detector(video_mode: bool):
    sys.modules.setdefault("sounddevice", None)  # mediapipe's audio helper runs ldconfig/gcc on import
    from mediapipe.tasks.python import BaseOptions, vision

    mode = vision.RunningMode.VIDEO if video_mode else vision.RunningMode.IMAGE
    return vision.FaceDetector.create_from_options(vision.FaceDetectorOptions(
        base_options=BaseOptions(model_asset_buffer=(REPO / "models" / "face_detector.tflite").read_bytes()),
        running_mode=mode, min_detection_confidence=MIN_CONFIDENCE, min_suppression_threshold=MIN_SUPPRESSION))


def as_records(result) -> list[dict]:
    records = []
    for det in result.detections:
        bb = det.bounding_box
        records.append({
            "box": [bb.origin_x, bb.origin_y, bb.width, bb.height],
            "keypoints": [[round(k.x, 6), round(k.y, 6)] for k in det.keypoints],
            "score": round(det.categories[0].score, 6),
        })
    return records


def record(videos: Path, val: Path, every: int, fer: int, pairs: int) -> tuple[dict, int]:
    from mediapipe.tasks.python.vision.core.image import Image, ImageFormat

    frames, video_mode_differs = [], 0
    image_detector, video_detector = mediapipe_detector(False), mediapipe_detector(True)
    try:
        last_video, ms = None, 0
        for source, rgb in [*video_frames(videos, every), *fer_frames(val, fer, pairs)]:
            image = Image(image_format=ImageFormat.SRGB, data=np.ascontiguousarray(rgb))
            detections = as_records(image_detector.detect(image))
            if "video" in source:
                if source["video"] != last_video:  # a new stream: a fresh VIDEO-mode detector
                    video_detector.close()
                    video_detector, last_video, ms = mediapipe_detector(True), source["video"], 0
                ms += 33 * every
                video_mode_differs += as_records(video_detector.detect_for_video(image, ms)) != detections
            frames.append({"source": source, "size": [rgb.shape[1], rgb.shape[0]],
                           "mean": round(float(rgb.mean()), 3), "detections": detections})
    finally:
        image_detector.close()
        video_detector.close()
    import mediapipe

    reference = {
        "recorded_with": f"mediapipe {mediapipe.__version__} FaceDetector, IMAGE mode, "
                         f"min_detection_confidence {MIN_CONFIDENCE}, min_suppression_threshold {MIN_SUPPRESSION}",
        "model": "models/face_detector.tflite",
        "command": f"python models/record_detector_reference.py --every {every} --fer {fer} --pairs {pairs}",
        "every": every, "fer": fer, "pairs": pairs,
        "frames": frames,
    }
    return reference, video_mode_differs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = REPO.parent / "shared" / "data"
    parser.add_argument("--videos", type=Path, default=shared / "videos")
    parser.add_argument("--val", type=Path, default=shared / "fer2013" / "val.npz")
    parser.add_argument("--every", type=int, default=3, help="every N-th video frame (default 3)")
    parser.add_argument("--fer", type=int, default=60, help="FER faces in 640x480 frames (default 60)")
    parser.add_argument("--pairs", type=int, default=12, help="frames of two FER faces side by side (default 12)")
    parser.add_argument("--out", type=Path, default=REPO / "tests" / "data" / "detector_reference.json")
    args = parser.parse_args(argv)
    reference, video_mode_differs = record(args.videos, args.val, args.every, args.fer, args.pairs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, separators=(",", ":")) + "\n")
    frames = reference["frames"]
    faces = sum(len(f["detections"]) for f in frames)
    print(f"{len(frames)} frames, {faces} detections -> {args.out} ({args.out.stat().st_size} bytes); "
          f"VIDEO mode differed from IMAGE mode on {video_mode_differs} video frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
