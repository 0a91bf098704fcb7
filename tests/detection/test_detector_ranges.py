"""DetectorOptions(range=...): the full-range model finds faces the short-range one cannot, and "auto"
switches between the two as its docstring says, on real frames through the real models."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.detection
import emoplay.pipeline
from emoplay.detection._auto import FULL_BELOW, HOLD, LOOK_EVERY, SHORT_FROM, RangeChooser


@pytest.fixture(scope="module")
def frames():
    """BGR frames: "large", single_face.mp4's frame 36 (640x360, the face 174 px tall, 27 % of the width);
    "small", that frame at half size in the middle of a grey 1280x720 frame (the face 90 px, 7 %); "blank"."""
    import cv2

    from tests.support import video_frames

    (large,) = video_frames("single_face.mp4", 36)
    half = cv2.resize(large, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
    small = np.full((720, 1280, 3), 128, np.uint8)
    small[270:450, 480:800] = half
    return {"large": large, "small": small, "blank": np.full((480, 640, 3), 128, np.uint8)}


def test_the_full_range_model_finds_a_face_too_small_for_the_short_range_one(frames):
    found = {}
    for model_range in ("short", "full"):
        with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False, range=model_range)) as detector:
            found[model_range] = detector.detect(frames["small"], color_order="bgr")
    assert len(found["short"]) == 0
    assert len(found["full"]) == 1
    x, y, w, h = found["full"].boxes[0]
    assert 560 <= x <= 600 and 300 <= y <= 340 and 80 <= h <= 100


def test_auto_starts_on_full_range_and_holds_a_large_face_on_short_range(frames):
    ranges = []
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(range="auto")) as detector:
        for i in range(2 * LOOK_EVERY):
            assert len(detector.detect(frames["large"], i / 30, color_order="bgr")) == 1
            ranges.append(detector.last_range)
    # HOLD full-range detections of a large face, then short range, with a full-range look every LOOK_EVERY-th.
    expected = ["full"] * HOLD + ["short"] * (LOOK_EVERY - 1) + ["full"] + ["short"] * (LOOK_EVERY - HOLD)
    assert ranges == expected[:len(ranges)]


@pytest.mark.parametrize("then", ["small", "blank"])
def test_auto_goes_back_to_full_range_at_once_when_the_face_shrinks_or_goes(frames, then):
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(range="auto")) as detector:
        for i in range(HOLD + 1):
            detector.detect(frames["large"], i / 30, color_order="bgr")
        assert detector.last_range == "short"
        detector.detect(frames[then], 1.0, color_order="bgr")  # short range: no face (too small, or none)
        assert detector.last_range == "short" and detector.next_range() == "full"
        found = detector.detect(frames[then], 1.1, color_order="bgr")
        assert detector.last_range == "full"
        assert len(found) == (1 if then == "small" else 0)
        detector.reset()
        assert detector.next_range() == "full"


def test_auto_has_hysteresis_between_its_two_thresholds():
    between = np.array([(SHORT_FROM + FULL_BELOW) / 2])
    chooser = RangeChooser()
    for _ in range(3 * HOLD):  # a face between the thresholds does not move full range to short
        chooser.observe(chooser.next_range(), between)
    assert chooser.current == "full"
    for _ in range(HOLD):
        chooser.observe(chooser.next_range(), np.array([SHORT_FROM]))
    assert chooser.current == "short"
    for _ in range(LOOK_EVERY - 2):  # ... nor short range back to full
        chooser.observe(chooser.next_range(), between)
    assert chooser.current == "short"
    # A large face and a small one (a second player further back) keep full range.
    chooser.observe("full", np.array([0.4, FULL_BELOW / 2]))
    assert chooser.current == "full"


def test_auto_runs_full_range_on_still_images(frames):
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False, range="auto")) as detector:
        for _ in range(HOLD + 2):
            assert len(detector.detect(frames["large"], color_order="bgr")) == 1
            assert detector.last_range == "full"


@pytest.mark.slow
def test_the_faces_of_a_moving_group_frame_keep_their_ids_through_the_real_pipeline():
    """Six faces (CK+ crops and faces from the shared videos, 70-90 px) on a 640x360 frame, each drifting
    1-2 px a frame for 2 s, through the whole pipeline with the full-range detector on every frame: every
    face found (announced with FaceFound; a tentative track before that may start over) keeps its id, and
    none is lost."""
    import cv2

    from tests.support import SHARED, VIDEOS, require_shared
    from tests.detection.test_detector_reference import recorder_module

    sources = recorder_module().face_sources(require_shared(SHARED / "data" / "ckplus"), require_shared(VIDEOS))
    rng = np.random.default_rng(3)
    faces = []
    for cell in range(6):
        _, crop, share = sources[int(rng.integers(len(sources)))]
        side = int(round(int(rng.integers(70, 91)) / share))
        start = np.array([cell % 3 * 213 + 20, cell // 3 * 180 + 10], float)
        faces.append((cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA), start, rng.uniform(-1.5, 1.5, 2)))
    options = emoplay.PipelineOptions(detector=emoplay.DetectorOptions(range="full"), detect_every=1)
    events, ids_at = [], {}
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        for i in range(60):
            frame = np.full((360, 640), 128, np.uint8)
            centres = []
            for face, start, step in faces:
                x, y = (start + i * step).astype(int)
                x, y = min(max(x, 0), 640 - len(face)), min(max(y, 0), 360 - len(face))
                frame[y:y + len(face), x:x + len(face)] = face
                centres.append((x + len(face) / 2, y + len(face) / 2))
            result = pipeline.process(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR), i / 30)
            events += result.events
            announced = {e.track_id for e in events if isinstance(e, emoplay.FaceFound)}
            for box, track_id in zip(result.detections.boxes, result.track_ids):
                if track_id not in announced:
                    continue
                nearest = int(np.argmin([np.hypot(box[0] + box[2] / 2 - cx, box[1] + box[3] / 2 - cy)
                                         for cx, cy in centres]))
                assert ids_at.setdefault(nearest, track_id) == track_id, f"face {nearest} changed id at frame {i}"
    found = {e.track_id for e in events if isinstance(e, emoplay.FaceFound)}
    assert len(found) >= 4  # most of the six are found at this size
    assert found == set(ids_at.values()) and len(found) == len(ids_at)
    assert not [e for e in events if isinstance(e, emoplay.FaceLost)]
