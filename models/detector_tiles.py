"""What ``DetectorOptions(tiles=...)`` finds and costs: small faces in large frames, the full-range model tiled.

Prints six tables, each for ``tiles="off"`` against ``tiles="auto"`` (both ``range="full"``):

1. faces found of group frames at 1280x720, 854x480 and 640x360 (:func:`group_frames`: 2 to 8 faces of
   50-90 px, CK+ crops and faces cut from the shared videos, each in its own cell of a plain grey
   background), with the detections that match no face and the faces found twice;
2. detections on frames without a face: every frame of ``no_face_animation.mp4`` at its own size (960x540)
   and upscaled to 1280x720, and the best score among them (the tracker confirms a face only once it has
   scored ``TrackerOptions.confirm_score``, 0.7);
3. the drifting clip (:func:`drifting_clip`: 8 faces of 50-90 px on a moving textured 1280x720
   background, two of them crossing) through the whole pipeline (defaults; ``detect_every`` 4 and 1, and 4
   with ``redetect_on_change=False``):
   faces announced, id changes, faces lost, and the pipeline's CPU time per frame, the two settings
   called in turn on the same frames;
4. one detection's CPU time at each size, the two settings called in turn on the same frames;
5. at 1280x720, faces found and one detection's CPU time for other grids (``tiles=(cols, rows)``);
6. one face (single_face.mp4's, 50-260 px) swept in 12 px steps across the corner where four of the
   4x2 tiles of a 1280x720 frame overlap (27 x 4 places): places where it was missed or found twice.

CPU times are of the calling thread (onnxruntime runs on it with ``threads=1``), so that a busy machine
does not count another process's work.

    python models/detector_tiles.py [--groups 24] [--frames 90]
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SIZES = ((1280, 720, 4), (854, 480, 3), (640, 360, 3))  # width, height, cells across (2 rows of cells)
SETTINGS = ("off", "auto")
CLIP_SIZE = (1280, 720)


def _script(name: str):
    """models/``name``.py as a module (these scripts are run as files, not imported as a package)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "models" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def recorder():
    return _script("record_detector_reference")


def group_frames(sources, count: int, width: int, height: int, across: int, seed: int = 30):
    """(faces, RGB frame) for ``count`` group frames: each face a dict with its pasted square (left, top, side)
    and ``face_px``, the height of its face."""
    rng = np.random.default_rng(seed)
    for source, frame in recorder()._group_frames(sources, rng, count, width, height, across):
        yield source["group"], frame


def face_matches(faces: list[dict], boxes: np.ndarray) -> tuple[int, int, int]:
    """(faces found, detections matching no face, faces found more than once): a detection matches a face when
    its centre lies in the face's pasted square and its height is half to twice the face's."""
    hits = np.zeros(len(faces), int)
    unmatched = 0
    for x, y, w, h in boxes:
        cx, cy = x + w / 2, y + h / 2
        matched = [i for i, f in enumerate(faces) if f["left"] <= cx < f["left"] + f["side"]
                   and f["top"] <= cy < f["top"] + f["side"] and 0.5 <= h / f["face_px"] <= 2]
        if matched:
            hits[matched[0]] += 1
        else:
            unmatched += 1
    return int((hits > 0).sum()), unmatched, int((hits > 1).sum())


def recall_table(sources, count: int) -> list[str]:
    from emoplay.detection import DetectorOptions, FaceDetector

    detectors = {t: FaceDetector(DetectorOptions(video_mode=False, range="full", tiles=t)) for t in SETTINGS}
    lines = ["group frames (2-8 faces of 50-90 px)      faces   found: off   auto   unmatched: off   auto   "
             "twice: off   auto"]
    try:
        for width, height, across in SIZES:
            total, found, unmatched, twice = 0, dict.fromkeys(SETTINGS, 0), dict.fromkeys(SETTINGS, 0), \
                dict.fromkeys(SETTINGS, 0)
            for faces, frame in group_frames(sources, count, width, height, across):
                total += len(faces)
                for setting, detector in detectors.items():
                    hit, extra, double = face_matches(faces, detector.detect(frame).boxes)
                    found[setting] += hit
                    unmatched[setting] += extra
                    twice[setting] += double
            lines.append(f"{width}x{height}, {count} frames {'':18s} {total:5d}   {found['off']:10d}   "
                         f"{found['auto']:4d}   {unmatched['off']:14d}   {unmatched['auto']:4d}   {twice['off']:10d}"
                         f"   {twice['auto']:4d}")
    finally:
        for detector in detectors.values():
            detector.close()
    return lines


def video_frames(path: Path):
    import cv2

    capture = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, bgr = capture.read()
            if not ok:
                return
            yield bgr
    finally:
        capture.release()


def false_positive_table(video: Path) -> list[str]:
    import cv2

    from emoplay.detection import DetectorOptions, FaceDetector

    detectors = {t: FaceDetector(DetectorOptions(video_mode=False, range="full", tiles=t)) for t in SETTINGS}
    counts = {(size, t): [0, 0, 0.0] for size in ("own", "1280x720") for t in SETTINGS}  # frames, detections, score
    try:
        for bgr in video_frames(video):
            for size, frame in (("own", bgr), ("1280x720", cv2.resize(bgr, CLIP_SIZE, interpolation=cv2.INTER_CUBIC))):
                for setting, detector in detectors.items():
                    scores = detector.detect(frame, color_order="bgr").scores
                    counts[size, setting][0] += len(scores) > 0
                    counts[size, setting][1] += len(scores)
                    counts[size, setting][2] = max([counts[size, setting][2], *scores.tolist()])
    finally:
        for detector in detectors.values():
            detector.close()
    frames = sum(1 for _ in video_frames(video))
    lines = [f"{video.name} ({frames} frames, no face)   frames with a detection: off   auto   detections: off   auto"
             "   best score: off   auto"]
    for size in ("own", "1280x720"):
        off, auto = counts[size, "off"], counts[size, "auto"]
        lines.append(f"  {size:36s} {off[0]:28d}   {auto[0]:4d}   {off[1]:15d}   {auto[1]:4d}   {off[2]:15.3f}   "
                     f"{auto[2]:4.3f}")
    return lines


def drifting_clip(sources, background: np.ndarray, frames: int, crossing: float = 0.85, seed: int = 5):
    """(centres of the 8 faces, gray 1280x720 frame) per frame: 8 faces of 50-90 px drifting 0.5-2 px a frame
    over a textured background that itself drifts 1 px a frame. Faces 0 and 1 start 270 px apart, the second
    ``crossing`` of its side lower, and move towards each other, crossing halfway through: at 0.85 the two
    pass just clear of each other's face (each face's box is the middle two thirds of its pasted square);
    at 0.6 the second hides the chin and mouth of the first; at 0.4 it hides the whole face for about 0.5 s.

    ``background``: a gray image at least (720 + frames) x (1280 + frames) pixels."""
    import cv2

    width, height = CLIP_SIZE
    rng = np.random.default_rng(seed)
    faces = []
    for cell in range(8):
        _, crop, share = sources[int(rng.integers(len(sources)))]
        side = int(round(int(rng.integers(50, 91)) / share))
        start = np.array([cell % 4 * 320 + 40 + rng.uniform(0, 120), cell // 4 * 360 + 40 + rng.uniform(0, 120)])
        faces.append([cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA), start, rng.uniform(-2, 2, 2)])
    # Faces 0 and 1 cross: they start 270 px apart on nearly one line and meet halfway through the clip.
    faces[0][1], faces[1][1] = np.array([300.0, 150.0]), np.array([570.0, 150.0 + crossing * len(faces[1][0])])
    step = 270 / max(frames, 1)
    faces[0][2], faces[1][2] = np.array([step, 0.0]), np.array([-step, 0.0])
    for i in range(frames):
        frame = background[i:i + height, i:i + width].copy()
        centres = []
        for face, start, velocity in faces:
            side = len(face)
            x, y = np.clip((start + i * velocity).astype(int), 0, [width - side, height - side])
            frame[y:y + side, x:x + side] = face
            centres.append((x + side / 2, y + side / 2))
        yield centres, frame


def textured_background(video: Path, frames: int) -> np.ndarray:
    """A frame of ``video`` (no faces), gray and scaled to cover the drifting clip's frames and drift."""
    import cv2

    bgr = next(iter(video_frames(video)))
    width, height = CLIP_SIZE
    return cv2.resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), (width + frames, height + frames),
                      interpolation=cv2.INTER_CUBIC)


def track_clip(clip: list[tuple[list, np.ndarray]], detect_every: int, redetect_on_change: bool = True
               ) -> dict[str, dict]:
    """Per setting: faces announced, id changes, faces lost, CPU ms per frame (settings called in turn)."""
    import cv2

    import emoplay
    from emoplay.pipeline import EmotionPipeline

    pipelines = {t: EmotionPipeline(emoplay.PipelineOptions(
        detector=emoplay.DetectorOptions(range="full", tiles=t), detect_every=detect_every,
        redetect_on_change=redetect_on_change)) for t in SETTINGS}
    state = {t: {"events": [], "ids_at": {}, "id_changes": 0, "cpu": 0.0} for t in SETTINGS}
    try:
        for i, (centres, gray) in enumerate(clip):
            frame = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR)
            for setting, pipeline in pipelines.items():
                s = state[setting]
                start = time.thread_time()
                result = pipeline.process(frame, i / 30)
                s["cpu"] += time.thread_time() - start
                s["events"] += result.events
                announced = {e.track_id for e in s["events"] if isinstance(e, emoplay.FaceFound)}
                for box, track_id in zip(result.detections.boxes, result.track_ids):
                    if track_id not in announced:
                        continue
                    nearest = int(np.argmin([np.hypot(box[0] + box[2] / 2 - cx, box[1] + box[3] / 2 - cy)
                                             for cx, cy in centres]))
                    if s["ids_at"].setdefault(nearest, track_id) != track_id:
                        s["id_changes"] += 1
                        s["ids_at"][nearest] = track_id
    finally:
        for pipeline in pipelines.values():
            pipeline.close()
    return {t: {"found": len({e.track_id for e in s["events"] if isinstance(e, emoplay.FaceFound)}),
                "faces": len(s["ids_at"]), "id_changes": s["id_changes"],
                "lost": sum(isinstance(e, emoplay.FaceLost) for e in s["events"]),
                "cpu_ms": 1000 * s["cpu"] / len(clip)} for t, s in state.items()}


def tracking_table(sources, video: Path, frames: int) -> list[str]:
    background = textured_background(video, frames)
    lines = [f"drifting clip (8 faces of 50-90 px, 1280x720, {frames} frames)   tiles   FaceFound   faces with an "
             "id   id changes   FaceLost   CPU ms/frame"]
    for crossing, detect_every, redetect in ((0.85, 4, True), (0.85, 1, True), (0.85, 4, False), (0.6, 4, True),
                                             (0.4, 4, True)):
        clip = list(drifting_clip(sources, background, frames, crossing))
        for setting, r in track_clip(clip, detect_every, redetect).items():
            redetect_words = "" if redetect else ", no redetect"
            lines.append(f"  crossing {crossing:4.2f}, detect_every {detect_every}{redetect_words:13s} {'':16s} "
                         f"{setting:5s}   "
                         f"{r['found']:9d}   {r['faces']:13d}   {r['id_changes']:10d}   {r['lost']:8d}   "
                         f"{r['cpu_ms']:12.1f}")
    return lines


def cost_table(sources, repeats: int) -> list[str]:
    from emoplay.detection import DetectorOptions, FaceDetector
    from emoplay.detection._tiles import auto_grid

    lines = ["one detection, CPU ms (median, interleaved)   grid   off   auto   auto / off"]
    for width, height, across in SIZES:
        frames = [f for _, f in group_frames(sources, 8, width, height, across)]
        detectors = {t: FaceDetector(DetectorOptions(video_mode=False, range="full", tiles=t)) for t in SETTINGS}
        times = {t: [] for t in SETTINGS}
        try:
            for i in range(repeats + 1):
                for setting, detector in detectors.items():
                    start = time.thread_time()
                    detector.detect(frames[i % len(frames)])
                    if i:
                        times[setting].append(time.thread_time() - start)
        finally:
            for detector in detectors.values():
                detector.close()
        off, auto = (1000 * float(np.median(times[t])) for t in SETTINGS)
        cols, rows = auto_grid(width, height)
        lines.append(f"  {width}x{height} {'':34s} {cols}x{rows}   {off:4.1f}   {auto:4.1f}   {auto / off:9.1f}")
    return lines


GRIDS = ((2, 1), (2, 2), (3, 2), (4, 2), (4, 3))


def grid_table(sources, count: int, repeats: int) -> list[str]:
    from emoplay.detection import DetectorOptions, FaceDetector

    frames = list(group_frames(sources, count, 1280, 720, 4))
    detectors = {grid: FaceDetector(DetectorOptions(video_mode=False, range="full", tiles=grid)) for grid in GRIDS}
    found, times = dict.fromkeys(GRIDS, 0), {grid: [] for grid in GRIDS}
    try:
        for i in range(max(repeats, len(frames)) + 1):
            faces, frame = frames[i % len(frames)]
            for grid, detector in detectors.items():
                start = time.thread_time()
                boxes = detector.detect(frame).boxes
                if i:
                    times[grid].append(time.thread_time() - start)
                if i < len(frames):
                    found[grid] += face_matches(faces, boxes)[0]
    finally:
        for detector in detectors.values():
            detector.close()
    total = sum(len(faces) for faces, _ in frames)
    lines = [f"1280x720 group frames ({total} faces)   grid   found   CPU ms (median, interleaved)"]
    lines += [f"  {'':35s} {c}x{r}   {found[c, r]:5d}   {1000 * float(np.median(times[c, r])):4.1f}" for c, r in GRIDS]
    return lines


def sweep_table(videos: Path) -> list[str]:
    import cv2

    from emoplay.detection import DetectorOptions, FaceDetector

    capture = cv2.VideoCapture(str(videos / "single_face.mp4"))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, 36)
        ok, bgr = capture.read()
    finally:
        capture.release()
    if not ok:
        raise SystemExit(f"{videos / 'single_face.mp4'}: frame 36 could not be read")
    crop = bgr[71:332, 160:421]  # the face is its middle two thirds
    lines = ["one face swept across the corner of four 1280x720 tiles   face px   places   missed   twice"]
    with FaceDetector(DetectorOptions(video_mode=False, range="full", tiles="auto")) as detector:
        for face_px in (50, 70, 90, 130, 174, 260):
            side = round(face_px * 1.5)
            face = cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA)
            counts = []
            for cx in range(200, 520, 12):
                for cy in (220, 300, 360, 420):
                    frame = np.full((720, 1280, 3), 128, np.uint8)
                    frame[cy - side // 2:cy - side // 2 + side, cx - side // 2:cx - side // 2 + side] = face
                    counts.append(len(detector.detect(frame, color_order="bgr")))
            counts = np.array(counts)
            lines.append(f"  {'':55s} {face_px:7d}   {len(counts):6d}   {int(np.sum(counts == 0)):6d}   "
                         f"{int(np.sum(counts > 1)):5d}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = _script("detector_ranges").shared_data_parser(__doc__)
    parser.add_argument("--groups", type=int, default=24, help="group frames of each size (default 24)")
    parser.add_argument("--frames", type=int, default=90, help="frames of the drifting clip (default 90)")
    parser.add_argument("--repeats", type=int, default=40, help="timed detections of each setting and size")
    parser.add_argument("--only", choices=("recall", "false", "tracking", "cost", "grids", "sweep"), help="one table")
    args = parser.parse_args(argv)
    sources = recorder().face_sources(args.ckplus, args.videos)
    no_face = args.videos / "no_face_animation.mp4"
    tables = {"recall": lambda: recall_table(sources, args.groups),
              "false": lambda: false_positive_table(no_face),
              "tracking": lambda: tracking_table(sources, no_face, args.frames),
              "cost": lambda: cost_table(sources, args.repeats),
              "grids": lambda: grid_table(sources, args.groups, args.repeats),
              "sweep": lambda: sweep_table(args.videos)}
    for name, table in tables.items():
        if args.only in (None, name):
            print("\n".join(table()), end="\n\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
