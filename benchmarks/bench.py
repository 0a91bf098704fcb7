"""The measurements behind ``emoplay bench``: how fast, how light and how prompt emoplay is on this machine.

``emoplay bench`` loads this file from the repository checkout (the installed package does not carry it);
the other scripts here import it as ``bench``.

Every figure uses the real detector, model and pipeline. Frames are 640x480:
the shared clip ``single_face.mp4`` (640x360) letterboxed into 640x480 when
the project's shared data is beside the repository (``../shared`` or
``EMOPLAY_SHARED``), otherwise matplotlib's sample photo ``grace_hopper.jpg``
(a real face; matplotlib comes with ``emoplay[plot]``) cropped to 4:3 and scaled to 640x480. The four-face frame tiles
four 320x240 crops around the face (from different moments of the clip).

Figures that depend on a process's whole life (import time, time to the first
event, CPU share and memory at 30 fps) are measured in fresh child processes,
so the benchmark's own data does not count against emoplay.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from bench_ranges import ROWS as RANGE_ROWS, measure_ranges
from emoplay._cpu import cpuinfo_field
from emoplay._errors import MissingExtraError
from emoplay._timing import median_ms

FRAME_W, FRAME_H = 640, 480
FPS = 30.0

# Figures with a target: key -> (comparison, target value, what the target means).
TARGETS: dict[str, tuple[str, float]] = {
    "end_to_end_fps_1face": (">=", 300.0),
    "cpu_share_30fps_percent": ("<=", 8.0),
    "import_s": ("<=", 0.3),
    "import_to_first_event_s": ("<=", 1.5),
    # A clean, sustained posed change: within 0.6 s with the default and dialogue presets, 0.3 s with responsive.
    "event_latency_ms_max": ("<=", 600.0),
    "event_latency_ms_max_responsive": ("<=", 300.0),
    "event_latency_ms_max_dialogue": ("<=", 600.0),
    "camera_off_ms_max": ("<=", 100.0),
    "camera_off_blocked_read_return_ms_max": ("<=", 100.0),  # the promise holds while the driver's read blocks
    # "Memory flat": RSS may not grow by more than 0.5 MB a minute after warm-up (5 MB over 10 minutes).
    "soak_rss_slope_mb_per_min": ("<=", 0.5),
}

# Labels and units for the printed table, in table order.
ROWS: tuple[tuple[str, str, str], ...] = (
    ("detect_ms", "face detection, 640x480 frame, 1 thread", "ms"),
    ("classify_ms_per_face", "classification, 1 face, 1 thread", "ms"),
    ("classify_ms_batch4", "classification, batch of 4 faces, 1 thread", "ms"),
    ("decode_ms", "video decode, 640x480 frame", "ms"),
    ("end_to_end_fps_1face", "end to end, 1 face, 640x480, 1 thread, defaults", "fps"),
    ("end_to_end_fps_1face_detect_every_1", "end to end, 1 face, detect_every=1", "fps"),
    ("end_to_end_fps_1face_classify_every_1", "end to end, 1 face, classify_every=1", "fps"),
    ("end_to_end_fps_4faces", "end to end, 4 faces, 640x480, 1 thread", "fps"),
    ("end_to_end_cpu_per_wall", "end to end: process CPU time / wall time", "x"),
    ("cpu_share_30fps_percent", "CPU share of one core, fed 30 fps, defaults", "%"),
    ("cpu_share_30fps_percent_detect_every_1", "CPU share of one core, fed 30 fps, detect_every=1", "%"),
    ("cpu_share_30fps_percent_classify_every_1", "CPU share of one core, fed 30 fps, classify_every=1", "%"),
    ("frames_processed_30fps_percent", "frames processed when fed 30 fps", "%"),
    ("rss_peak_mb", "peak memory (RSS high-water mark), fed 30 fps", "MB"),
    ("import_s", "import emoplay", "s"),
    ("import_to_first_event_s", "import emoplay to first event (video)", "s"),
    ("event_latency_ms_median", "event latency, neutral -> happy, median", "ms"),
    ("event_latency_ms_max", "event latency, neutral -> happy, worst", "ms"),
    ("event_latency_ms_max_responsive", "event latency, worst, stability=responsive", "ms"),
    ("event_latency_ms_max_dialogue", "event latency, worst, stability=dialogue", "ms"),
    ("event_latency_after_talk_ms_max_dialogue", "event latency after 3 s of talk, worst, stability=dialogue", "ms"),
    ("camera_off_ms_median", "camera off -> device released, median", "ms"),
    ("camera_off_ms_max", "camera off -> device released, worst", "ms"),
    ("camera_off_return_ms_max", "camera off -> stop() returned, worst", "ms"),
    ("camera_off_blocked_read_return_ms_max", "camera off, driver read blocked -> stop() returned, worst", "ms"),
    ("camera_off_blocked_read_release_ms_max", "camera off, driver read blocked -> released after it returned, worst",
     "ms"),
    ("soak_seconds", "soak run length, fed 30 fps", "s"),
    ("soak_rss_start_mb", "soak: RSS after warm-up", "MB"),
    ("soak_rss_end_mb", "soak: RSS at the end", "MB"),
    ("soak_rss_peak_mb", "soak: RSS peak", "MB"),
    ("soak_rss_slope_mb_per_min", "soak: RSS slope", "MB/min"),
)
ALL_ROWS = ROWS + RANGE_ROWS  # with the detector ranges' rows (bench_ranges.py)


@dataclass(frozen=True)
class BenchSettings:
    fast: bool = False
    soak_s: float = 600.0
    detector_range: str = "short"  # DetectorOptions.range of every figure but the per-range rows

    def pipeline_options(self):
        from emoplay.detection import DetectorOptions
        from emoplay.pipeline._pipeline import PipelineOptions

        return PipelineOptions(detector=DetectorOptions(range=self.detector_range))

    @property
    def repeats(self) -> int:
        return 30 if self.fast else 300

    @property
    def end_to_end_frames(self) -> int:
        return 60 if self.fast else 600


# -- frames ------------------------------------------------------------------------------------------------------
def shared_dir() -> Path:
    repo = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("EMOPLAY_SHARED", repo.parent / "shared"))


def shared_video() -> Path | None:
    path = shared_dir() / "data" / "videos" / "single_face.mp4"
    return path if path.is_file() else None


def _letterbox(pixels: np.ndarray) -> np.ndarray:
    """Fit a BGR image into 640x480 (scaled to fit, centred, black bars)."""
    import cv2

    h, w = pixels.shape[:2]
    scale = min(FRAME_W / w, FRAME_H / h)
    if scale != 1.0:
        pixels = cv2.resize(pixels, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    h, w = pixels.shape[:2]
    out = np.zeros((FRAME_H, FRAME_W, 3), np.uint8)
    y0, x0 = (FRAME_H - h) // 2, (FRAME_W - w) // 2
    out[y0:y0 + h, x0:x0 + w] = pixels
    return out


def _photo_frames(count: int = 32) -> list[np.ndarray]:
    """Matplotlib's sample photo of Grace Hopper, cropped to 4:3 around the face and scaled to 640x480.

    Each frame moves it by a pixel or two and adds sensor-like noise, as a camera would: no two frames
    (and no two face crops) are identical, so no work is skipped that a camera would not let us skip.
    """
    import cv2

    try:
        from matplotlib import cbook
    except ImportError as e:
        from emoplay._plotting import PLOT_EXTRA

        raise MissingExtraError("emoplay bench needs frames with a face: the shared test video "
                                "(../shared/data/videos beside the repository, or EMOPLAY_SHARED), or matplotlib's "
                                f"sample photo ({PLOT_EXTRA})") from e
    pixels = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))  # 512x600
    still = cv2.resize(pixels[0:384, :], (FRAME_W, FRAME_H), interpolation=cv2.INTER_CUBIC)  # face in the top
    rng = np.random.default_rng(0)
    frames = []
    for k in range(count):
        dx, dy = round(2 * math.sin(k / 5)), round(2 * math.cos(k / 7))
        moved = cv2.warpAffine(still, np.float32([[1, 0, dx], [0, 1, dy]]), (FRAME_W, FRAME_H),
                               borderMode=cv2.BORDER_REPLICATE)
        noise = rng.normal(0, 2.0, moved.shape)
        frames.append(np.clip(moved + noise, 0, 255).astype(np.uint8))
    return frames


def bench_frames() -> tuple[list[np.ndarray], str]:
    """The 640x480 BGR frames every measurement uses, and a line saying where they come from."""
    import cv2

    path = shared_video()
    if path is None:
        return _photo_frames(), ("matplotlib's sample photo grace_hopper.jpg at 640x480, moved and noised per frame "
                                 "(no ../shared data here)")
    cap = cv2.VideoCapture(str(path))
    frames = []
    try:
        while True:
            ok, pixels = cap.read()
            if not ok:
                break
            frames.append(_letterbox(pixels))
    finally:
        cap.release()
    return frames, f"{path.name} (640x360, {len(frames)} frames) letterboxed into 640x480"


def four_face_frames(frames: list[np.ndarray], box: np.ndarray) -> list[np.ndarray]:
    """2x2 tiles of 320x240 crops centred on the face ``box``, from four different moments of the clip."""
    x, y, w, h = (int(v) for v in box)
    cx = min(max(x + w // 2 - 160, 0), FRAME_W - 320)
    cy = min(max(y + h // 2 - 120, 0), FRAME_H - 240)
    n = len(frames)
    out = []
    for i in range(n):
        tiles = [frames[(i + k * n // 4) % n][cy:cy + 240, cx:cx + 320] for k in range(4)]
        out.append(np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])]))
    return out


def write_video(frames: list[np.ndarray], path: Path) -> Path:
    """Encode frames as an MPEG-4 video (what a decoder would read), at 30 fps."""
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (width, height))
    if not writer.isOpened():
        raise RuntimeError("OpenCV cannot write an mp4v video here")
    try:
        for pixels in frames:
            writer.write(pixels)
    finally:
        writer.release()
    return path


# -- small helpers -----------------------------------------------------------------------------------------------
def _proc_status_mb(field: str) -> float | None:
    """A memory field of /proc/self/status (``VmRSS``, ``VmHWM``) in MB; None where there is no /proc."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def rss_mb() -> float:
    """Resident memory of this process now, MB (Linux /proc; elsewhere the high-water mark)."""
    now = _proc_status_mb("VmRSS")
    return peak_rss_mb() if now is None else now


def peak_rss_mb() -> float:
    """Peak resident memory of this process, MB."""
    peak_mb = _proc_status_mb("VmHWM")
    if peak_mb is not None:
        return peak_mb
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB elsewhere


def _slope_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) samples, in MB per minute."""
    if len(samples) < 2:
        return 0.0
    t = np.array([s[0] for s in samples])
    m = np.array([s[1] for s in samples])
    if np.ptp(t) == 0:
        return 0.0
    return float(np.polyfit(t, m, 1)[0] * 60)


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    here = Path(__file__).resolve().parent  # the child imports this module as `bench`, and emoplay from the checkout
    paths = [str(here.parent), str(here)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("GLOG_minloglevel", "2")  # MediaPipe's start-up chatter
    return env


def _run_child(code: str, timeout: float) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last stdout line."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_child_env(),
                          timeout=timeout)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"benchmark child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(lines[-1])


# -- the measurements --------------------------------------------------------------------------------------------
def measure_stages(frames: list[np.ndarray], settings: BenchSettings) -> tuple[dict, np.ndarray]:
    """Detection and classification alone, median ms; also the face box of the first frame."""
    from emoplay.pipeline._classify import EmotionClassifier
    from emoplay.detection import DetectorOptions, FaceDetector
    from emoplay._frames import to_rgb_and_gray

    out: dict[str, float] = {}
    rgb, gray = to_rgb_and_gray(frames[0])
    with FaceDetector(DetectorOptions(video_mode=True, range=settings.detector_range)) as detector:
        found = detector.detect(rgb, 0.0)
        if len(found) == 0:
            raise RuntimeError("the benchmark frame has no detectable face")
        clock = iter(range(1, 10**9))
        out["detect_ms"] = median_ms(lambda: detector.detect(rgb, next(clock) / FPS), settings.repeats)
    with EmotionClassifier() as classifier:
        one = classifier.crop_faces(gray, found.boxes[:1])
        four = np.repeat(one, 4, axis=0)
        out["classify_ms_per_face"] = median_ms(lambda: classifier.classify_crops(one), settings.repeats)
        out["classify_ms_batch4"] = median_ms(lambda: classifier.classify_crops(four), settings.repeats)
    return out, found.boxes[0]


def _run_video(path: Path, count: int, options) -> dict[str, float]:
    """Decode ``count`` frames of a (looping) video and push each through the pipeline on this thread."""
    from emoplay.pipeline._pipeline import EmotionPipeline
    from emoplay.sensor._sources import VideoFileSource

    with EmotionPipeline(options) as pipeline:
        source = VideoFileSource(path, loop=True)
        source.open()
        try:
            for _ in range(10):  # warm-up: first inferences allocate
                frame = source.read(1.0)
                pipeline.process(frame.pixels, frame.timestamp)
            faces = 0
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                frame = source.read(1.0)
                faces += len(pipeline.process(frame.pixels, frame.timestamp).detections)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            source.close()
    return {"fps": count / wall, "cpu_per_wall": cpu / wall, "faces_per_frame": faces / count}


def _decode_ms(path: Path, count: int) -> float:
    from emoplay.sensor._sources import VideoFileSource

    source = VideoFileSource(path, loop=True)
    source.open()
    try:
        start = time.perf_counter()
        for _ in range(count):
            source.read(1.0)
        return (time.perf_counter() - start) * 1000 / count
    finally:
        source.close()


def measure_end_to_end(frames: list[np.ndarray], box: np.ndarray, settings: BenchSettings, workdir: Path,
                       options=None) -> dict[str, float]:
    """decode → detect → crop → classify → track → debounce → events, frames per second on one thread."""
    from emoplay.pipeline._pipeline import PipelineOptions

    options = options or settings.pipeline_options()
    one = write_video(frames, workdir / "one_face.mp4")
    four = write_video(four_face_frames(frames, box), workdir / "four_faces.mp4")
    count = settings.end_to_end_frames
    first = _run_video(one, count, options)
    every1 = _run_video(one, count, replace(options, detect_every=1))
    classify1 = _run_video(one, count, replace(options, classify_every=1))
    second = _run_video(four, max(count // 2, 30), options)
    return {
        "decode_ms": _decode_ms(one, count),
        "end_to_end_fps_1face": first["fps"],
        "end_to_end_fps_1face_detect_every_1": every1["fps"],
        "end_to_end_fps_1face_classify_every_1": classify1["fps"],
        "end_to_end_fps_4faces": second["fps"],
        "end_to_end_cpu_per_wall": first["cpu_per_wall"],
        "faces_per_frame_1face": first["faces_per_frame"],
        "faces_per_frame_4faces": second["faces_per_frame"],
    }


TALK_S = 3.0  # measure_event_latency's talking lead-in: neutral, the smile glimpsed 0.4-0.6 s into each second


def _lead_in(after_talk: bool) -> list[bool]:
    """Per frame before the neutral -> happy change, whether it shows the happy face: none of 1 s, or the
    glimpses of ``TALK_S`` seconds of talk."""
    frames = int((TALK_S if after_talk else 1.0) * FPS)
    return [after_talk and int(0.4 * FPS) <= k % int(FPS) < int(0.6 * FPS) for k in range(frames)]


def measure_event_latency(settings: BenchSettings, options=None, after_talk: bool = False) -> tuple[dict[str, float], str]:
    """Stream time from the first frame of a sustained neutral → happy change to its ``EmotionChanged``.

    ``options``: the pipeline's (``PipelineOptions``; None: the defaults). ``after_talk``: the neutral second
    before the change becomes ``TALK_S`` seconds of a talking face's reading, the happy face glimpsed for 0.2 s
    each second, so the change comes from a face whose reading has been alternating.
    """
    fer = shared_dir() / "data" / "fer2013" / "val.npz"
    from emoplay.pipeline._pipeline import EmotionPipeline, PipelineOptions

    if not fer.is_file():
        return (_debounce_only_latency((options or PipelineOptions()).debounce_options, after_talk),
                "debouncer alone on a clean probability step (no FER2013 data here)")

    pairs = 1 if settings.fast else 5
    faces = _confident_fer_faces(fer, pairs)
    latencies = []
    glimpses = _lead_in(after_talk)
    lead_in = len(glimpses)
    with EmotionPipeline(options or PipelineOptions()) as pipeline:
        for neutral, happy in zip(faces["neutral"], faces["happy"]):
            pipeline.end_stream(0.0)
            t, switch_at, fired = 0.0, None, None
            for k in range(lead_in + int(3 * FPS)):
                t = k / FPS
                if k == lead_in and switch_at is None:
                    switch_at = t
                result = pipeline.process(happy if switch_at is not None or glimpses[k] else neutral, t)
                for event in result.events:
                    if switch_at is not None and getattr(event, "current", None) == "happy" and fired is None:
                        fired = event.timestamp
                if fired is not None:
                    break
            if fired is None:
                raise RuntimeError("no EmotionChanged to happy within 3 s of the change")
            latencies.append((fired - switch_at) * 1000)
    source = f"{pairs} FER2013 val neutral -> happy pair(s), faces upscaled to 240 px in 480x480 frames, 30 fps"
    if after_talk:
        source += f", after {TALK_S:.0f} s of neutral with a 0.2 s glimpse of the smile each second"
    return {"event_latency_ms_median": statistics.median(latencies), "event_latency_ms_max": max(latencies)}, source


def _confident_fer_faces(path: Path, count: int) -> dict[str, list[np.ndarray]]:
    """Frames of FER val faces the model is sure about (like the tests' ``happy_and_neutral_frames``)."""
    import cv2

    from emoplay.pipeline._classify import EmotionClassifier
    from emoplay.detection import DetectorOptions, FaceDetector

    with np.load(path) as data:
        images, labels, classes = data["images"], data["labels"], [str(c) for c in data["classes"]]
    picked: dict[str, list[np.ndarray]] = {"happy": [], "neutral": []}
    with FaceDetector(DetectorOptions(video_mode=False)) as detector, EmotionClassifier() as classifier:
        for image, label in zip(images, labels):
            name = classes[label]
            if name not in picked or len(picked[name]) >= count:
                continue
            big = cv2.resize(image, (240, 240), interpolation=cv2.INTER_CUBIC)
            gray = cv2.copyMakeBorder(big, 120, 120, 120, 120, cv2.BORDER_REPLICATE)
            found = detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB))
            if len(found) != 1:
                continue
            probs = classifier.classify(gray, found.boxes)[0]
            if classes[int(np.argmax(probs))] == name and probs.max() > 0.6:
                picked[name].append(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR))
            if all(len(v) >= count for v in picked.values()):
                break
    return picked


def _debounce_only_latency(options, after_talk: bool = False) -> dict[str, float]:
    from emoplay.pipeline._debounce import Debouncer
    from emoplay._events import EMOTIONS

    neutral = np.full(len(EMOTIONS), 0.2 / (len(EMOTIONS) - 1))
    neutral[EMOTIONS.index("neutral")] = 0.8
    happy = np.full(len(EMOTIONS), 0.2 / (len(EMOTIONS) - 1))
    happy[EMOTIONS.index("happy")] = 0.8
    debouncer = Debouncer(EMOTIONS, options)
    glimpses = _lead_in(after_talk)
    lead_in = len(glimpses)
    for k, glimpse in enumerate(glimpses):
        debouncer.update(1, happy if glimpse else neutral, k / FPS)
    switch_at = lead_in / FPS
    for k in range(lead_in, lead_in + int(3 * FPS)):
        change = debouncer.update(1, happy, k / FPS)
        if change is not None and change.current == "happy":
            ms = (change.timestamp - switch_at) * 1000
            return {"event_latency_ms_median": ms, "event_latency_ms_max": ms}
    raise RuntimeError("the debouncer never reported the change")


def measure_camera_off(frames: list[np.ndarray], settings: BenchSettings) -> dict[str, float]:
    """A live memory source stands in for a camera: time from stop()/withdraw_consent() to its release."""
    from emoplay.sensor._sensor import Sensor, SensorOptions
    from emoplay.sensor._sources import MemorySource

    class TimedSource(MemorySource):
        released_at = 0.0

        def close(self) -> None:
            super().close()
            self.released_at = time.perf_counter()

    source = TimedSource(live=True)
    released, returned = [], []
    rounds = 3 if settings.fast else 10
    with Sensor(SensorOptions(source=source, require_indicator=False)) as sensor:
        for i in range(rounds):
            sensor.grant_consent()
            sensor.start()
            stop_feeding = threading.Event()
            feeder = threading.Thread(target=_feed, args=(sensor, frames, stop_feeding, None), daemon=True)
            feeder.start()
            time.sleep(0.4 + 0.037 * i)  # vary where in the frame cycle the request lands
            before = source.released
            start = time.perf_counter()
            if i % 2:
                sensor.withdraw_consent()
            else:
                sensor.stop()
            end = time.perf_counter()
            stop_feeding.set()
            feeder.join()
            if source.released == before:
                raise RuntimeError("stopping the sensor did not release the source")
            released.append((source.released_at - start) * 1000)
            returned.append((end - start) * 1000)
            sensor.poll()
    return {"camera_off_ms_median": statistics.median(released), "camera_off_ms_max": max(released),
            "camera_off_return_ms_max": max(returned), **_measure_camera_off_blocked(frames, settings)}


class _BlockedDriver:
    """A camera driver (the part of cv2.VideoCapture a CameraSource uses) whose read() blocks ``block_s`` seconds
    from the third frame on, like an unplugged V4L2 camera; records when the read returned and when released."""

    def __init__(self, frames: list[np.ndarray], block_s: float) -> None:
        self.frames, self.block_s, self.reads = frames, block_s, 0
        self.blocking = threading.Event()
        self.read_returned_at = self.released_at = 0.0

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop, value) -> bool:
        return True

    def read(self):
        self.reads += 1
        if self.reads >= 3:
            self.blocking.set()
            time.sleep(self.block_s)
            self.read_returned_at = time.perf_counter()
        else:
            time.sleep(1 / FPS)
        return True, self.frames[self.reads % len(self.frames)].copy()

    def release(self) -> None:
        self.released_at = time.perf_counter()


def _measure_camera_off_blocked(frames: list[np.ndarray], settings: BenchSettings) -> dict[str, float]:
    """A real CameraSource over a driver whose read() blocks: stop()/withdraw_consent() must still return fast."""
    from emoplay.sensor._sensor import Sensor, SensorOptions
    from emoplay.sensor._sources import CameraSource

    returned, released = [], []
    block_s = 1.0 if settings.fast else 3.0
    for i in range(2 if settings.fast else 4):
        driver = _BlockedDriver(frames, block_s)
        with Sensor(SensorOptions(source=CameraSource(0, opener=lambda device: driver), require_indicator=False)) \
                as sensor:
            sensor.grant_consent()
            sensor.start()
            if not driver.blocking.wait(30):
                raise RuntimeError("the blocking driver was never read")
            time.sleep(0.05 + 0.037 * i)  # somewhere inside the blocked read
            start = time.perf_counter()
            if i % 2:
                sensor.withdraw_consent()
            else:
                sensor.stop()
            returned.append((time.perf_counter() - start) * 1000)
            if not sensor.wait_released(block_s + 10) or not driver.released_at:
                raise RuntimeError("the camera was not released after its blocked read returned")
            released.append((driver.released_at - driver.read_returned_at) * 1000)
            sensor.poll()
    return {"camera_off_blocked_read_return_ms_max": max(returned),
            "camera_off_blocked_read_release_ms_max": max(released)}


def _feed(sensor, frames: list[np.ndarray], stop: threading.Event, on_tick) -> int:
    """Submit frames at 30 fps, on a fixed schedule, until ``stop`` is set; the number submitted."""
    start = time.perf_counter()
    k = 0
    while not stop.is_set():
        sensor.submit(frames[k % len(frames)])
        if on_tick is not None:
            on_tick(k)
        k += 1
        delay = start + k / FPS - time.perf_counter()
        if delay > 0:
            stop.wait(delay)
    return k


def measure_import(settings: BenchSettings, video: Path) -> tuple[dict[str, float], str]:
    """Import time and import-to-first-event, each in a fresh interpreter; the median of several runs."""
    code = (
        "import json, time\n"
        "t0 = time.perf_counter()\n"
        "import emoplay\n"
        "t1 = time.perf_counter()\n"
        f"sensor = emoplay.Sensor(source={str(video)!r})\n"
        "sensor.start()\n"
        "first = None\n"
        "while first is None:\n"
        "    for event in sensor.poll():\n"
        "        if isinstance(event, (emoplay.EmotionChanged, emoplay.FaceFound)):\n"
        "            first = event\n"
        "            break\n"
        "    else:\n"
        "        if not sensor.running and sensor.camera_state.value in ('off', 'error'):\n"
        "            raise SystemExit('the video ended without an event')\n"
        "        time.sleep(0.001)\n"
        "t2 = time.perf_counter()\n"
        "sensor.close()\n"
        "print(json.dumps({'import_s': t1 - t0, 'first_s': t2 - t0, 'event': type(first).__name__}))\n"
    )
    # Warm the file cache first: the first run after an install reads every module from disk.
    _run_child("import json, emoplay; print(json.dumps({}))", 120)
    runs = [_run_child(code, 120) for _ in range(1 if settings.fast else 5)]
    first = ", ".join(sorted({r["event"] for r in runs}))
    return {"import_s": statistics.median(r["import_s"] for r in runs),
            "import_to_first_event_s": statistics.median(r["first_s"] for r in runs)}, f"{first} from {video.name}"


def measure_fed_30fps(seconds: float, detect_every: int = 0, classify_every: int = 0,
                      detector_range: str = "short") -> dict[str, float]:
    """CPU share, frames processed and memory of a fresh process whose Sensor is fed 30 fps (the soak run)."""
    code = (f"from bench import fed_30fps_child; "
            f"fed_30fps_child({float(seconds)!r}, {int(detect_every)!r}, {int(classify_every)!r}, "
            f"{str(detector_range)!r})")
    return _run_child(code, seconds + 300)


def camera_like_loop(frames: list[np.ndarray], count: int = 8, step: int = 2) -> list[np.ndarray]:
    """A few frames to loop over as a camera would deliver them, keeping the bench's data small: ``count``
    frames ``step`` apart from the clip (0.6 to 1.1 s of single_face.mp4: the smile begins), played forwards
    then backwards, so that each frame follows one it is near in time (as a 15 fps camera's; a loop jumping
    across the whole clip would make every face look changed, which no camera does) and none repeats."""
    start = max(min(18, len(frames) - count * step), 0)
    picked = frames[start:start + count * step:step]
    return picked + picked[-2:0:-1]


def fed_30fps_child(seconds: float, detect_every: int = 0, classify_every: int = 0,
                    detector_range: str = "short") -> None:
    """In a fresh process: feed a memory-source Sensor 30 fps for ``seconds``, sampling RSS; print JSON.

    CPU share and memory slope are taken after a warm-up (a tenth of the run, 5 to 60 s) in which
    onnxruntime, MediaPipe and the allocator reach their working sizes.
    """
    from emoplay.detection import DetectorOptions
    from emoplay.pipeline._pipeline import PipelineOptions
    from emoplay.sensor._sensor import Sensor, SensorOptions

    frames, _ = bench_frames()
    frames = camera_like_loop(frames)
    warmup_s = min(max(seconds / 10, min(5.0, seconds / 4)), 60.0)
    samples: list[tuple[float, float]] = []
    changed = {k: v for k, v in (("detect_every", detect_every), ("classify_every", classify_every)) if v}
    pipeline = PipelineOptions(detector=DetectorOptions(range=detector_range), **changed)  # 0: the default
    sensor = Sensor(SensorOptions(source="memory", pipeline=pipeline))
    sensor.start()
    stop = threading.Event()
    marks: dict[str, float] = {}
    start = time.perf_counter()

    def tick(k: int) -> None:
        sensor.poll()  # the host drains events each frame, as a game loop would
        now = time.perf_counter() - start
        if "cpu0" not in marks and now >= warmup_s:
            marks.update(cpu0=time.process_time(), wall0=time.perf_counter(), frames0=sensor.frames_processed,
                         submitted0=k)
        if "cpu0" in marks and (not samples or now - samples[-1][0] >= 1.0):
            samples.append((now, rss_mb()))
        if now >= seconds:
            marks.update(cpu1=time.process_time(), wall1=time.perf_counter(), frames1=sensor.frames_processed,
                         submitted1=k)
            stop.set()

    _feed(sensor, frames, stop, tick)
    sensor.close()
    wall = marks["wall1"] - marks["wall0"]
    submitted = marks["submitted1"] - marks["submitted0"]
    print(json.dumps({
        "cpu_share_30fps_percent": 100 * (marks["cpu1"] - marks["cpu0"]) / wall,
        "frames_processed_30fps_percent": 100 * (marks["frames1"] - marks["frames0"]) / max(submitted, 1),
        "rss_peak_mb": peak_rss_mb(),
        "soak_seconds": seconds,
        "soak_rss_start_mb": samples[0][1],
        "soak_rss_end_mb": samples[-1][1],
        "soak_rss_peak_mb": max(m for _, m in samples),
        "soak_rss_slope_mb_per_min": _slope_per_min(samples),
    }))


# -- the whole run -----------------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    from importlib import metadata

    info = {"python": platform.python_version(), "platform": platform.platform(), "cpus": str(os.cpu_count())}
    cpu = cpuinfo_field("model name")
    if cpu is not None:
        info["cpu"] = cpu
    for dist in ("numpy", "opencv-python", "opencv-contrib-python", "onnxruntime"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return info


def run_bench(settings: BenchSettings, progress=None) -> dict:
    """Every measurement; a JSON-ready dict with ``results``, ``targets`` (with met flags) and ``info``."""
    from stability_measures import measure_stability
    from emoplay.pipeline._classify import EmotionClassifier
    from emoplay.pipeline._pipeline import PipelineOptions

    say = progress or (lambda message: None)
    results: dict[str, float] = {}
    frames, frames_source = bench_frames()
    with EmotionClassifier() as classifier:
        model = f"{Path(classifier.info.path).name} {classifier.info.version}, {classifier.int8_kernels} int8 kernels"
    say("stages")
    stages, box = measure_stages(frames, settings)
    results.update(stages)
    with tempfile.TemporaryDirectory(prefix="emoplay-bench-") as tmp:
        say("end to end")
        e2e = measure_end_to_end(frames, box, settings, Path(tmp))
        say("import and first event")
        imported, first_event = measure_import(settings, shared_video() or Path(tmp) / "one_face.mp4")
        results.update(imported)
    say("event latency")
    latency, latency_source = measure_event_latency(settings, settings.pipeline_options())
    results.update(latency)
    for preset in ("responsive", "dialogue"):
        latency, _ = measure_event_latency(settings, PipelineOptions(stability=preset))
        results[f"event_latency_ms_max_{preset}"] = latency["event_latency_ms_max"]
    latency, _ = measure_event_latency(settings, PipelineOptions(stability="dialogue"), after_talk=True)
    results["event_latency_after_talk_ms_max_dialogue"] = latency["event_latency_ms_max"]
    videos = shared_dir() / "data" / "videos"
    stability = None
    if videos.is_dir():
        say("stability presets on the shared videos")
        stability = measure_stability(videos, latency=False)
    say("camera off")
    results.update(measure_camera_off(frames, settings))
    soak_s = max(settings.soak_s, 5.0)
    say(f"fed 30 fps for {soak_s:g} s (CPU share, memory)")
    detector_range = settings.detector_range
    results.update(measure_fed_30fps(soak_s, detector_range=detector_range))
    say("fed 30 fps with detect_every=1")
    results["cpu_share_30fps_percent_detect_every_1"] = measure_fed_30fps(
        5.0 if settings.fast else 60.0, detect_every=1, detector_range=detector_range)["cpu_share_30fps_percent"]
    say("fed 30 fps with classify_every=1")
    results["cpu_share_30fps_percent_classify_every_1"] = measure_fed_30fps(
        5.0 if settings.fast else 60.0, classify_every=1, detector_range=detector_range)["cpu_share_30fps_percent"]
    faces = {"1 face": e2e.pop("faces_per_frame_1face"), "4 faces": e2e.pop("faces_per_frame_4faces")}
    results.update(e2e)
    say("detector ranges")
    with tempfile.TemporaryDirectory(prefix="emoplay-bench-") as tmp:
        ranges, faces["detector ranges"] = measure_ranges(frames, box, settings, Path(tmp))
    results.update(ranges)
    ordered = {key: results[key] for key, _, _ in ALL_ROWS}
    targets = {}
    for key, (op, value) in TARGETS.items():
        measured = ordered[key]
        met = measured >= value if op == ">=" else measured <= value
        targets[key] = {"op": op, "target": value, "measured": measured, "met": bool(met)}
    return {
        "results": ordered,
        "targets": targets,
        "all_met": all(t["met"] for t in targets.values()),
        "stability": stability,  # per preset, shared video and face (stability_measures.py); None without the videos
        "info": {
            "frames": frames_source,
            "event_latency_frames": latency_source,
            "first_event": first_event,
            "faces_detected_per_frame": faces,
            "model": model,
            "mode": "fast" if settings.fast else "full",
            "detector_range": settings.detector_range,
            "machine": machine(),
        },
    }


def format_table(report: dict) -> str:
    """The report as a fixed-width table (what ``emoplay bench`` prints)."""
    info = report["info"]
    lines = [f"emoplay bench ({info['mode']}) on {info['machine'].get('cpu', platform.machine())}, "
             f"{info['machine']['cpus']} CPUs, Python {info['machine']['python']}",
             f"frames: {info['frames']}",
             f"event latency frames: {info['event_latency_frames']}",
             f"first event after import: {info['first_event']}",
             f"model: {info['model']}",
             "",
             f"{'measure':50} {'value':>10} {'unit':6} {'target':>10}  met"]
    lines.append("-" * len(lines[-1]))
    for key, label, unit in ALL_ROWS:
        value = report["results"][key]
        target = report["targets"].get(key)
        goal = f"{target['op']} {target['target']:g}" if target else ""
        met = ("yes" if target["met"] else "NO") if target else ""
        lines.append(f"{label:50} {_fmt(value):>10} {unit:6} {goal:>10}  {met}")
    met = sum(t["met"] for t in report["targets"].values())
    lines.append(f"targets met: {met} of {len(report['targets'])}")
    if report.get("stability"):
        from stability_measures import format_stability

        lines += ["", "stability presets on the shared videos (changes after the first reading; flips: undone "
                      "within 2 s)", format_stability(report["stability"])]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
