"""PipelineOptions.min_face_px: a face too small to read is found and tracked but its emotion is unknown."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from emoplay.pipeline._pipeline import MIN_FACE_PX


@pytest.fixture(scope="module")
def two_faces():
    """A 960x360 BGR frame: single_face.mp4's frame 36 (the face 170-180 px tall) and, beside it, the same frame
    at half size (the face about 85 px), which only the full-range detector finds."""
    import cv2

    from tests.support import video_frames

    (large,) = video_frames("single_face.mp4", 36)
    half = cv2.resize(large, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    return np.hstack([large, cv2.copyMakeBorder(half, 90, 90, 0, 0, cv2.BORDER_CONSTANT, value=(128, 128, 128))])


def _run(frame: np.ndarray, min_face_px: int, frames: int = 12):
    options = emoplay.PipelineOptions(detector=emoplay.DetectorOptions(range="full"), min_face_px=min_face_px)
    events, last = [], None
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        for i in range(frames):
            last = pipeline.process(frame, i / 10)
            events += last.events
        emotions = {track_id: pipeline.emotion_of(track_id) for track_id in last.track_ids}
    return events, last, emotions


def test_a_face_below_min_face_px_is_found_but_its_emotion_is_unknown(two_faces):
    events, last, emotions = _run(two_faces, min_face_px=120)
    heights = dict(zip(last.track_ids, last.detections.boxes[:, 3]))
    small = min(heights, key=heights.get)
    large = max(heights, key=heights.get)
    assert heights[small] < 120 <= heights[large]
    found = {e.track_id: e for e in events if isinstance(e, emoplay.FaceFound)}
    assert set(found) == {small, large}  # both faces are reported, with their boxes
    assert found[small].box[3] < 120
    changes = [e for e in events if isinstance(e, emoplay.EmotionChanged)]
    assert not [e for e in changes if e.track_id == small]  # never a guess for the small face
    assert emotions[small] == (emoplay.UNKNOWN, 0.0)
    index = last.track_ids.index(small)
    np.testing.assert_allclose(last.probabilities[index], 1 / 7, atol=1e-6)
    assert emotions[large] is not None and emotions[large][0] != emoplay.UNKNOWN


def test_the_same_face_is_read_when_min_face_px_allows_it(two_faces):
    events, last, emotions = _run(two_faces, min_face_px=1)
    assert len(last.track_ids) == 2
    assert all(e is not None and e[0] != emoplay.UNKNOWN for e in emotions.values())
    assert not np.allclose(last.probabilities, 1 / 7)


def test_min_face_px_is_checked():
    assert emoplay.PipelineOptions().min_face_px == MIN_FACE_PX
    with pytest.raises(ValueError, match="min_face_px"):
        emoplay.PipelineOptions(min_face_px=0)
