"""What the tests share besides fixtures: where the shared data is, the guards that need it, and real faces.

Tests that need the shared data (../shared: videos, FER2013) or an optional tool ask for it with
:func:`require_shared` / :func:`require_module` / :func:`require`: when it is missing they skip
with a reason on a developer machine, and FAIL in CI (``CI`` set, as ``.ci/run`` does), so a CI
run can never pass by quietly skipping what it was meant to check.

Import as ``from tests.support import ...`` (pyproject.toml puts the repository root on pytest's path).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
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
    """The path of shared data (relative paths are taken under ../shared); skip locally, fail in CI, when absent.

    A test that asks for shared data must be marked ``shared_data`` (tests/conftest.py marks the tests whose code
    uses these helpers, see :mod:`tests.support.markers`); an unmarked one fails here, so that
    ``-m "not shared_data"`` never runs a test that needs the data.
    """
    path = Path(path)
    if not path.is_absolute():
        path = SHARED / path
    if path == SHARED or SHARED in path.parents:
        _check_marked_shared_data(path)
    require(path.exists(), f"{path} is absent: this test needs the project's shared data beside the repository "
                           "(../shared) or EMOPLAY_SHARED pointing at it")
    return path


# The test being run (tests/conftest.py sets it), and the modules that ask for shared data at import time.
_running: list = []
MODULES_READING_SHARED_DATA: set[str] = set()


@contextmanager
def running(item):
    """While ``item`` (a pytest test) runs, :func:`require_shared` checks that it is marked ``shared_data``."""
    _running.append(item)
    try:
        yield
    finally:
        _running.pop()


def _check_marked_shared_data(path: Path) -> None:
    if _running:
        item = _running[-1]
        if item.get_closest_marker("shared_data") is None and not item.module.__name__.startswith("tests.support."):
            pytest.fail(f"{item.nodeid} reads {path} but is not marked shared_data: mark it "
                        "@pytest.mark.shared_data", pytrace=False)
        return
    frame = sys._getframe(1)  # no test is running: a test module is being imported (collected)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("tests.support"):
        frame = frame.f_back
    if frame is not None:
        MODULES_READING_SHARED_DATA.add(frame.f_globals.get("__name__", ""))


def require_module(name: str, reason: str = ""):
    """Import and return module ``name``; skip locally, fail in CI, when it cannot be imported."""
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        require(False, reason or f"{name} is not installed ({exc}); pip install -e '.[test]' brings it")


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


def write_video(path: Path, frames, fps: float) -> Path:
    """A real 'mp4v' video at ``path`` of the BGR ``frames`` (all of one size), at ``fps``."""
    import cv2

    frames = list(frames)
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    assert writer.isOpened(), "this OpenCV build cannot write mp4v"
    try:
        for frame in frames:
            writer.write(frame)
    finally:
        writer.release()
    return path


def face_frame(face48: np.ndarray, side: int = 240, context: int = 120) -> np.ndarray:
    """A BGR frame built from a 48x48 FER face: upscaled to ``side`` px with replicated-border context."""
    import cv2

    big = cv2.resize(face48, (side, side), interpolation=cv2.INTER_CUBIC)
    frame = cv2.copyMakeBorder(big, context, context, context, context, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)


def drain_until(sensor, predicate, timeout=20.0):
    """Poll like a game loop until predicate(events so far) holds; the events seen."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen += sensor.poll()
        if predicate(seen):
            return seen
        time.sleep(0.005)
    raise AssertionError(f"condition not reached; events: {seen}")
