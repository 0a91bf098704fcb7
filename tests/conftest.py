"""Shared fixtures, and the hooks that apply markers. Helpers (data paths, the require* guards, real faces) are in
tests/support."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests import support
from tests.support import FER, VIDEOS, face_frame, require_shared
from tests.support.markers import reads_shared_data

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

# Markers that follow from a fixture the test uses.
FIXTURE_MARKERS = {"browser": "browser", "godot": "godot"}


@pytest.hookimpl(tryfirst=True)  # before -m selects by marker
def pytest_collection_modifyitems(config, items):
    """Mark tests ``browser``/``godot`` by the fixture they use, and ``shared_data`` by what their code reads.
    Tests marked ``build`` (they build the self-contained server: minutes) run only when ``-m`` names them."""
    if "build" not in (config.option.markexpr or ""):
        skipped = [item for item in items if item.get_closest_marker("build")]
        if skipped:
            config.hook.pytest_deselected(items=skipped)
            items[:] = [item for item in items if not item.get_closest_marker("build")]
    for item in items:
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in item.fixturenames:
                item.add_marker(marker)
        # tests.support's own tests try the guards on stand-in paths: they need no shared data
        if not item.module.__name__.startswith("tests.support.") and reads_shared_data(item):
            item.add_marker("shared_data")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    with support.running(item):
        return (yield)


@pytest.fixture
def video():
    """Path of one of the shared test videos, by file name."""
    return lambda name: require_shared(VIDEOS / name)


@pytest.fixture(scope="session")
def fer_val():
    path = require_shared(FER / "val.npz")
    with np.load(path) as d:
        return d["images"], d["labels"], tuple(str(c) for c in d["classes"])


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
