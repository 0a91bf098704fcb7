"""Shared fixtures and hooks. Helpers (data paths, the require* guards, real faces) are in tests/support."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.support import FER, VIDEOS, face_frame, require_shared

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")


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
    with emoplay.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as det, emoplay.EmotionClassifier() as clf:
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
