"""The full-range detector finds what MediaPipe's full-range graph found (no mediapipe needed).

``tests/data/detector_reference_full_range.json`` holds the detections of mediapipe 0.10.21's
``solutions.face_detection`` with ``model_selection=1`` (the same tflite file, min_detection_confidence
0.5) on every 3rd frame of the shared videos and on group frames (2 to 8 faces of 50-90 px from CK+
crops and the shared videos, 1280x720 and 640x360); ``models/record_detector_reference.py --range full``
recorded it and builds the same frames here. MediaPipe's full-range graph keeps faces scoring 0.6 or more
(whatever min_detection_confidence says), as ``DetectorOptions.full_range_min_confidence`` does.

Tolerances, and the worst cases measured when they were set (373 frames, 292 detections):

* faces per frame: equal, except where a score lies within ``BORDERLINE`` of the 0.6 threshold, on at
  most ``MAX_BORDERLINE_FRAMES`` frames (measured: 2 group frames, scores 0.6015 and 0.6017);
* box IoU (relative boxes): >= ``MIN_IOU`` each (measured worst 0.969), >= ``MIN_MEAN_IOU`` on average
  (measured 0.9987);
* score: |difference| <= ``MAX_SCORE_DIFF`` (measured worst 0.0055);
* keypoints: within ``MAX_KEYPOINT_ERROR`` of the box's longer side each (measured worst 1.74 %), median
  <= ``MAX_MEDIAN_KEYPOINT_ERROR`` (measured 0.079 %).

The group frames say how far the model reaches: at 1280x720, MediaPipe found 9 of 108 faces of 50-90 px
(under 15 px on the 192x192 input); at 640x360, 52 of 96.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from emoplay.detection import DetectorOptions
from tests.support import REPO, SHARED, VIDEOS, require_shared
from tests.detection.test_detector_reference import (BORDERLINE, assert_decoded_as_recorded, compare, differing_frames, iou,
                                     recorder_module)

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

REFERENCE = REPO / "tests" / "data" / "detector_reference_full_range.json"
THRESHOLD = DetectorOptions().full_range_min_confidence
MAX_BORDERLINE_FRAMES = 3
MIN_IOU, MIN_MEAN_IOU = 0.95, 0.995
MAX_SCORE_DIFF = 0.01
MAX_KEYPOINT_ERROR, MAX_MEDIAN_KEYPOINT_ERROR = 0.025, 0.001  # fractions of the box's longer side


@pytest.fixture(scope="module")
def compared():
    """(reference frame, our NormalizedDetections, the frame's mean pixel value) for every reference frame."""
    reference = json.loads(REFERENCE.read_text())
    frames = recorder_module()
    videos, ckplus = require_shared(VIDEOS), require_shared(SHARED / "data" / "ckplus")
    return compare(reference, [*frames.video_frames(videos, reference["every"]),
                               *frames.group_frames(ckplus, videos, reference["groups"])],
                   DetectorOptions(video_mode=False, range="full"))


def _matches(compared):
    """(reference detection, our box, score, keypoint error) per face, on frames with as many faces in both; the
    keypoint error is the largest distance of one keypoint, in pixels, over the box's longer side."""
    for frame, ours, _ in compared:
        if len(ours) != len(frame["detections"]):
            continue
        size = np.asarray(frame["size"], np.float64)
        for det in frame["detections"]:
            j = max(range(len(ours)), key=lambda k: iou(det["box"], ours.boxes[k]))
            error = np.abs(ours.keypoints[j] - np.asarray(det["keypoints"])) * size
            yield det, ours.boxes[j], float(ours.scores[j]), float(error.max() / (np.max(det["box"][2:] * size)))


def test_reference_frames_decode_as_when_they_were_recorded(compared):
    assert_decoded_as_recorded(compared)
    groups = [f for f, _, _ in compared if "group" in f["source"]]
    assert sum(len(f["detections"]) for f in groups) >= 50  # the group frames hold found faces, several per frame
    assert max(len(f["detections"]) for f in groups) >= 4


def test_the_same_faces_are_found_on_every_frame(compared):
    differ = differing_frames(compared, THRESHOLD)
    assert len(differ) <= MAX_BORDERLINE_FRAMES, differ


def test_boxes_overlap_mediapipes(compared):
    ious = [iou(det["box"], box) for det, box, *_ in _matches(compared)]
    assert min(ious) >= MIN_IOU
    assert np.mean(ious) >= MIN_MEAN_IOU


def test_scores_match_mediapipes(compared):
    diffs = [abs(score - det["score"]) for det, _, score, _ in _matches(compared)]
    assert max(diffs) <= MAX_SCORE_DIFF


def test_keypoints_match_mediapipes(compared):
    errors = [error for *_, error in _matches(compared)]
    assert max(errors) <= MAX_KEYPOINT_ERROR
    assert np.median(errors) <= MAX_MEDIAN_KEYPOINT_ERROR
