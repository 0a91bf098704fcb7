"""Fixtures of the benchmark suite: the same 640x480 frames as ``emoplay bench``, real models, one thread."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import emoplay
import emoplay.detection
import emoplay.pipeline
from bench import FPS, bench_frames, four_face_frames
from emoplay._frames import to_rgb_and_gray
from tests.support import VIDEOS, in_ci, require_shared


@pytest.fixture(scope="session")
def frames():
    """640x480 BGR frames: single_face.mp4 letterboxed, or (only outside CI) a sample photo without ../shared."""
    if in_ci():
        require_shared(VIDEOS / "single_face.mp4")  # CI measures what `emoplay bench` reports, never the stand-in
    return bench_frames()[0]


@pytest.fixture(scope="session")
def face_box(frames):
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        found = detector.detect(to_rgb_and_gray(frames[0])[0])
    assert len(found) == 1, "the benchmark frame must show one face"
    return found.boxes[0]


@pytest.fixture(scope="session")
def four_faces(frames, face_box):
    return four_face_frames(frames, face_box)


@pytest.fixture
def stream_time():
    """Increasing timestamps at 30 fps, as a video-mode detector and the tracker need."""
    counter = itertools.count()
    return lambda: next(counter) / FPS


@pytest.fixture(scope="session")
def classifier():
    with emoplay.pipeline.EmotionClassifier() as clf:
        yield clf


@pytest.fixture
def cycle():
    """Cycle through a list of frames, one per call."""
    def make(items):
        it = itertools.cycle(items)
        return lambda: next(it)
    return make


@pytest.fixture
def crops(classifier, frames, face_box):
    one = classifier.crop_faces(to_rgb_and_gray(frames[0])[1], face_box[None])
    return np.repeat(one, 4, axis=0)
