"""``emoplay bench``'s detector-range rows: each range's cost per frame, and the pipeline with 1, 4 and 8 faces.

* ``detect_ms_short`` / ``detect_ms_full``: one face detection on the 640x480 bench frames, the two models
  called in turn on the same frames (interleaved, so that a busy machine slows both alike), median CPU time
  of the calling thread in ms (wall time would count the waits for a core on a shared machine);
  ``detect_full_over_short`` is their ratio.
* ``detect_ms_full_1280`` / ``detect_ms_tiled_1280``: one full-range detection on those frames scaled to
  1280x720, on the whole frame and with ``tiles="auto"`` (4x2 tiles plus the whole frame), called in turn;
  ``detect_tiled_over_full`` is their ratio (what finding 50-90 px faces at that size costs).
* ``range_<short|full|auto>_fps_<n>face[s]``: the whole pipeline (defaults, one thread, decoding included)
  on a video of frames with 1, 4 or 8 faces: the 640x480 bench frames; 2x2 tiles of 320x240 crops around
  the face (640x480); 8 such tiles in a 3x3 grid (960x720, the ninth tile grey). Each face is 174 px tall,
  18 % or more of the frame's longer side, so every range can find them all.
* ``range_<...>_cpu_share_<n>face[s]``: the CPU share of one core that 30 fps of those frames take: CPU time
  per frame (process time over the run / frames) x 30.
* ``range_<...>_faces_<n>face[s]`` (in the report's info): faces found per frame.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

RANGES = ("short", "full", "auto")
FACES = (1, 4, 8)


def _label(faces: int) -> str:
    return f"{faces}face" if faces == 1 else f"{faces}faces"


ROWS: tuple[tuple[str, str, str], ...] = (
    ("detect_ms_short", "face detection, short range, 640x480, CPU, interleaved", "ms"),
    ("detect_ms_full", "face detection, full range, 640x480, CPU, interleaved", "ms"),
    ("detect_full_over_short", "face detection, full range / short range", "x"),
    ("detect_ms_full_1280", "face detection, full range, 1280x720, CPU, interleaved", "ms"),
    ("detect_ms_tiled_1280", "face detection, full range, 4x2 tiles, 1280x720, CPU", "ms"),
    ("detect_tiled_over_full", "face detection, 4x2 tiles / whole frame, 1280x720", "x"),
    *((f"range_{r}_fps_{_label(n)}", f"end to end, {n} face{'s' if n > 1 else ''}, range={r}", "fps")
      for r in RANGES for n in FACES),
    *((f"range_{r}_cpu_share_{_label(n)}", f"CPU share at 30 fps, {n} face{'s' if n > 1 else ''}, range={r}", "%")
      for r in RANGES for n in FACES),
)


def eight_face_frames(frames: list[np.ndarray], box: np.ndarray) -> list[np.ndarray]:
    """3x3 tiles of 320x240 crops centred on the face ``box`` (960x720), from eight moments of the clip; the
    ninth tile is grey."""
    from bench import FRAME_H, FRAME_W

    x, y, w, h = (int(v) for v in box)
    cx = min(max(x + w // 2 - 160, 0), FRAME_W - 320)
    cy = min(max(y + h // 2 - 120, 0), FRAME_H - 240)
    n = len(frames)
    grey = np.full((240, 320, 3), 128, np.uint8)
    out = []
    for i in range(n):
        tiles = [frames[(i + k * n // 8) % n][cy:cy + 240, cx:cx + 320] for k in range(8)] + [grey]
        out.append(np.vstack([np.hstack(tiles[row * 3:row * 3 + 3]) for row in range(3)]))
    return out


def _median_ms_interleaved(frames: list[np.ndarray], repeats: int, options: dict) -> dict[str, float]:
    """Median CPU ms of one detection by each of ``options`` (name: DetectorOptions), called in turn on the same
    frames."""
    from emoplay.detection import FaceDetector

    detectors = {name: FaceDetector(option) for name, option in options.items()}
    times: dict[str, list[float]] = {name: [] for name in detectors}
    try:
        for i in range(repeats + 1):
            frame = frames[i % len(frames)]
            for name, detector in detectors.items():
                start = time.thread_time()
                detector.detect(frame, color_order="bgr")
                if i:  # the first call of each warms up
                    times[name].append(time.thread_time() - start)
    finally:
        for detector in detectors.values():
            detector.close()
    return {name: float(np.median(t)) * 1000 for name, t in times.items()}


def detect_ms_interleaved(frames: list[np.ndarray], repeats: int) -> dict[str, float]:
    """The detection rows: each range on the bench frames, and full range with and without tiles at 1280x720."""
    import cv2

    from emoplay.detection import DetectorOptions

    ms = _median_ms_interleaved(frames, repeats, {r: DetectorOptions(video_mode=False, range=r)
                                                  for r in ("short", "full")})
    large = [cv2.resize(f, (1280, 720), interpolation=cv2.INTER_LINEAR) for f in frames[:8]]
    tiled = _median_ms_interleaved(large, max(repeats // 4, 10), {
        tiles: DetectorOptions(video_mode=False, range="full", tiles=tiles) for tiles in ("off", "auto")})
    return {"detect_ms_short": ms["short"], "detect_ms_full": ms["full"],
            "detect_full_over_short": ms["full"] / ms["short"], "detect_ms_full_1280": tiled["off"],
            "detect_ms_tiled_1280": tiled["auto"], "detect_tiled_over_full": tiled["auto"] / tiled["off"]}


def measure_ranges(frames: list[np.ndarray], box: np.ndarray, settings, workdir: Path) -> tuple[dict, dict]:
    """The rows above, and per range and face count the faces found per frame (for the report's info)."""
    from bench import _run_video, four_face_frames, write_video
    from emoplay.detection import DetectorOptions
    from emoplay.pipeline._pipeline import PipelineOptions

    results = detect_ms_interleaved(frames, settings.repeats)
    videos = {1: write_video(frames, workdir / "ranges_1.mp4"),
              4: write_video(four_face_frames(frames, box), workdir / "ranges_4.mp4"),
              8: write_video(eight_face_frames(frames, box), workdir / "ranges_8.mp4")}
    count = max(settings.end_to_end_frames // 2, 30)
    found = {}
    for model_range in RANGES:
        options = replace(PipelineOptions(), detector=DetectorOptions(range=model_range))
        for faces, video in videos.items():
            run = _run_video(video, count, options)
            results[f"range_{model_range}_fps_{_label(faces)}"] = run["fps"]
            results[f"range_{model_range}_cpu_share_{_label(faces)}"] = 100 * 30 * run["cpu_per_wall"] / run["fps"]
            found[f"range_{model_range}_faces_{_label(faces)}"] = run["faces_per_frame"]
    return results, found
