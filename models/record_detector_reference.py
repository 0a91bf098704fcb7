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

With ``--range full`` it records the full-range model instead, with
MediaPipe's own full-range graph (``mediapipe.solutions.face_detection``,
``model_selection=1``, min_detection_confidence 0.5; mediapipe 0.10.21, whose
wheel holds the same ``face_detection_full_range_sparse.tflite`` as
``models/face_detector_full_range.tflite``; the MediaPipe Tasks face detector
runs only the short-range model). Its frames are the same video frames and
``--groups`` 1280x720 and as many 640x360 group frames (:func:`group_frames`):
2 to 8 faces of 50-90 px from CK+ crops and the shared videos on a plain
background. (At 1280x720 most such faces are under 15 px on the model's
192x192 input, where MediaPipe's full-range graph finds few of them; the
640x360 frames hold the same faces at twice that share of the frame.) Boxes are
recorded as MediaPipe's relative boxes (fractions of the frame, 6 decimals).

This is a build-time script: it needs mediapipe, which emoplay no longer
depends on (``pip install mediapipe``; for ``--range full``, ``mediapipe==0.10.21``);
mediapipe sends usage data to Google when a detector is created, so run it
offline or in a sandbox.

    python models/record_detector_reference.py --out tests/data/detector_reference.json
    python models/record_detector_reference.py --range full --out tests/data/detector_reference_full_range.json
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


GROUP_FRAMES = ((1280, 720, 4), (640, 360, 3))  # width, height, cells across (2 rows of cells)
GROUP_FACES = (50, 90)  # face heights in pixels, both included
# Faces cut from the shared videos: (video, frame index, left, top, side of the square crop); each crop holds the
# face (MediaPipe's box) with half its side of margin, so the face is two thirds of the crop.
VIDEO_FACES = (("single_face.mp4", 36, 160, 71, 261), ("talking_smiling.mp4", 232, 187, 72, 192),
               ("noface_then_face.mov", 159, 242, 103, 394), ("face_then_noface.mov", 15, 246, 119, 386))
CKPLUS_FACE_SHARE = 0.8  # of a 48x48 CK+ crop's side that the face's box takes (the crops are loose)


def face_sources(ckplus: Path, videos: Path) -> list[tuple[str, np.ndarray, float]]:
    """(name, gray face crop, share of the crop's side the face's box takes) for the group frames."""
    import cv2

    sources = []
    for video, index, left, top, side in VIDEO_FACES:
        capture = cv2.VideoCapture(str(videos / video))
        try:
            capture.set(cv2.CAP_PROP_POS_FRAMES, index)
            ok, bgr = capture.read()
        finally:
            capture.release()
        if not ok:
            raise SystemExit(f"{videos / video}: frame {index} could not be read")
        crop = cv2.cvtColor(bgr[top:top + side, left:left + side], cv2.COLOR_BGR2GRAY)
        sources.append((f"{video}:{index}", crop, 2 / 3))
    for path in sorted(ckplus.glob("*/*.png"))[::29]:  # every 29th crop, across the classes
        sources.append((f"ckplus:{path.parent.name}/{path.name}", cv2.imread(str(path), cv2.IMREAD_GRAYSCALE),
                        CKPLUS_FACE_SHARE))
    return sources


def group_frames(ckplus: Path, videos: Path, count: int, seed: int = 20):
    """``count`` RGB frames of each size in ``GROUP_FRAMES``, of 2 to 8 (6 at 640x360) faces 50-90 px tall.

    The frame is split into 4 x 2 (3 x 2) cells; each face goes in its own cell at a random place, so faces
    never overlap. The background is a mid-grey with a horizontal gradient.
    """
    sources = face_sources(ckplus, videos)
    rng = np.random.default_rng(seed)
    for width, height, across in GROUP_FRAMES:
        yield from _group_frames(sources, rng, count, width, height, across)


def _group_frames(sources, rng, count: int, width: int, height: int, across: int):
    import cv2

    cell_w, cell_h = width // across, height // 2
    background = np.tile(np.linspace(90, 170, width).astype(np.uint8), (height, 1))
    for _ in range(count):
        frame = background.copy()
        faces = []
        cells = rng.permutation(2 * across)[:int(rng.integers(2, 2 * across + 1))]
        for cell in sorted(cells.tolist()):
            name, crop, share = sources[int(rng.integers(len(sources)))]
            face_px = int(rng.integers(GROUP_FACES[0], GROUP_FACES[1] + 1))
            side = int(round(face_px / share))
            left = cell % across * cell_w + int(rng.integers(0, cell_w - side + 1))
            top = cell // across * cell_h + int(rng.integers(0, cell_h - side + 1))
            frame[top:top + side, left:left + side] = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
            faces.append({"face": name, "face_px": face_px, "left": left, "top": top, "side": side})
        yield {"group": faces}, cv2.cvtColor(frame, cv2.COLOR_GRAY2RGB)


def mediapipe_full_range_detector():
    sys.modules.setdefault("sounddevice", None)
    from mediapipe.python.solutions.face_detection import FaceDetection

    return FaceDetection(min_detection_confidence=MIN_CONFIDENCE, model_selection=1)


def as_relative_records(result) -> list[dict]:
    records = []
    for det in result.detections or ():
        bb = det.location_data.relative_bounding_box
        records.append({
            "box": [round(v, 6) for v in (bb.xmin, bb.ymin, bb.width, bb.height)],
            "keypoints": [[round(k.x, 6), round(k.y, 6)] for k in det.location_data.relative_keypoints],
            "score": round(det.score[0], 6),
        })
    return records


def record_full_range(videos: Path, ckplus: Path, every: int, groups: int) -> dict:
    import mediapipe

    frames = []
    with mediapipe_full_range_detector() as detector:
        for source, rgb in [*video_frames(videos, every), *group_frames(ckplus, videos, groups)]:
            detections = as_relative_records(detector.process(np.ascontiguousarray(rgb)))
            frames.append({"source": source, "size": [rgb.shape[1], rgb.shape[0]],
                           "mean": round(float(rgb.mean()), 3), "detections": detections})
    return {
        "recorded_with": f"mediapipe {mediapipe.__version__} solutions.face_detection, model_selection=1 (full "
                         f"range), min_detection_confidence {MIN_CONFIDENCE}",
        "model": "models/face_detector_full_range.tflite",
        "command": f"python models/record_detector_reference.py --range full --every {every} --groups {groups}",
        "every": every, "groups": groups,
        "frames": frames,
    }


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
    parser.add_argument("--range", choices=("short", "full"), default="short", help="which model (default short)")
    parser.add_argument("--ckplus", type=Path, default=shared / "ckplus", help="CK+ crops, for the group frames")
    parser.add_argument("--groups", type=int, default=24, help="full range: group frames of each size (default 24)")
    parser.add_argument("--out", type=Path, help="default: tests/data/detector_reference[_full_range].json")
    args = parser.parse_args(argv)
    name = "detector_reference.json" if args.range == "short" else "detector_reference_full_range.json"
    args.out = args.out or REPO / "tests" / "data" / name
    if args.range == "full":
        reference, video_mode_differs = record_full_range(args.videos, args.ckplus, args.every, args.groups), 0
    else:
        reference, video_mode_differs = record(args.videos, args.val, args.every, args.fer, args.pairs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(reference, separators=(",", ":")) + "\n")
    frames = reference["frames"]
    faces = sum(len(f["detections"]) for f in frames)
    for width, height, _ in GROUP_FRAMES if args.range == "full" else ():
        group = [f for f in frames if "group" in f["source"] and f["size"] == [width, height]]
        print(f"group frames {width}x{height}: {sum(len(f['detections']) for f in group)} of "
              f"{sum(len(f['source']['group']) for f in group)} faces found")
    print(f"{len(frames)} frames, {faces} detections -> {args.out} ({args.out.stat().st_size} bytes)")
    if args.range == "short":
        print(f"VIDEO mode differed from IMAGE mode on {video_mode_differs} video frames")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
