"""Shared fixtures.

Tests that need the shared data (../shared: videos, FER2013) or an optional tool ask for it with
:func:`require_shared` / :func:`require_module` / :func:`require`: when it is missing they skip
with a reason on a developer machine, and FAIL in CI (``CI`` set, as ``.ci/run`` does), so a CI
run can never pass by quietly skipping what it was meant to check.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("EMOPLAY_SHARED", REPO.parent / "shared"))
VIDEOS = SHARED / "data" / "videos"
FER = SHARED / "data" / "fer2013"


def in_ci() -> bool:
    """True when running in CI (``CI`` set to anything but empty, ``0`` or ``false``)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(condition: bool, reason: str) -> None:
    """Go on when ``condition`` holds; otherwise skip locally and fail in CI, with ``reason``."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI is set: a missing dependency fails the run instead of skipping)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_shared(path: str | os.PathLike) -> Path:
    """The path of shared data (relative paths are taken under ../shared); skip locally, fail in CI, when absent."""
    path = Path(path)
    if not path.is_absolute():
        path = SHARED / path
    require(path.exists(), f"{path} is absent: this test needs the project's shared data beside the repository "
                           "(../shared) or EMOPLAY_SHARED pointing at it")
    return path


def require_module(name: str, reason: str = ""):
    """Import and return module ``name``; skip locally, fail in CI, when it cannot be imported."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, reason or f"{name} is not installed ({exc}); pip install -e '.[test]' brings it")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``build`` (they build the self-contained server: minutes) run only when ``-m`` names them."""
    if "build" in (config.option.markexpr or ""):
        return
    skipped = [item for item in items if item.get_closest_marker("build")]
    if skipped:
        config.hook.pytest_deselected(items=skipped)
        items[:] = [item for item in items if not item.get_closest_marker("build")]


@pytest.fixture
def video():
    """Path of one of the shared test videos, by file name."""
    return lambda name: require_shared(VIDEOS / name)


@pytest.fixture(scope="session")
def fer_val():
    path = require_shared(FER / "val.npz")
    with np.load(path) as d:
        return d["images"], d["labels"], tuple(str(c) for c in d["classes"])


def few_faces(per_class: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``per_class`` real FER val faces of each class (needs the shared data, see :func:`require_shared`)."""
    with np.load(require_shared(FER / "val.npz")) as d:
        images, labels = d["images"], d["labels"]
    keep = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in range(7)])
    return images[keep], labels[keep].astype(np.int64)


def run_video(pipeline, path: Path):
    """Every frame of a video through ``pipeline``: (events, per-frame probabilities, last timestamp)."""
    from emoplay.sensor._sources import EndOfStream, VideoFileSource

    source = VideoFileSource(path)
    source.open()
    events, probs, last = [], [], 0.0
    try:
        while True:
            frame = source.read(1.0)
            result = pipeline.process(frame.pixels, frame.timestamp)
            events += result.events
            probs.append(result.probabilities)
            last = frame.timestamp
    except EndOfStream:
        events += pipeline.end_stream(last)
    finally:
        source.close()
    return events, probs, last


def video_frames(name: str, start: int, count: int = 1) -> list[np.ndarray]:
    """``count`` BGR frames of a shared video from frame ``start`` on."""
    import cv2

    capture = cv2.VideoCapture(str(require_shared(VIDEOS / name)))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, start)
        frames = [capture.read() for _ in range(count)]
    finally:
        capture.release()
    assert all(ok for ok, _ in frames), f"{name}: frames {start}-{start + count - 1} could not be read"
    return [pixels for _, pixels in frames]


def face_frame(face48: np.ndarray, side: int = 240, context: int = 120) -> np.ndarray:
    """A BGR frame built from a 48x48 FER face: upscaled to ``side`` px with replicated-border context."""
    import cv2

    big = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, context, context, context, context, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


@pytest.fixture(scope="session")
def happy_and_neutral_frames(fer_val):
    """Frames of FER val faces the shipped model is confident about: 3 happy, 3 neutral, all detectable."""
    import emoplay

    images, labels, classes = fer_val
    picked: dict[str, list[np.ndarray]] = {"happy": [], "neutral": []}
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as det, \
            emoplay.pipeline.EmotionClassifier() as clf:
        for img, label in zip(images, labels):
            name = classes[label]
            if name not in picked or len(picked[name]) >= 3:
                continue
            frame = face_frame(img)
            rgb, gray = frame[:, :, ::-1].copy(), frame[:, :, 0].copy()
            found = det.detect(rgb)
            if len(found) != 1:
                continue
            probs = clf.classify(gray, found.boxes)[0]
            if classes[int(np.argmax(probs))] == name and probs.max() > 0.6:
                picked[name].append(frame)
            if all(len(v) == 3 for v in picked.values()):
                break
    return picked
