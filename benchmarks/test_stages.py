"""Per-stage and end-to-end timings with pytest-benchmark (run: python -m pytest benchmarks --benchmark-enable)."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.detection
import emoplay.pipeline
from emoplay._frames import to_gray, to_rgb_and_gray

pytestmark = pytest.mark.bench


def test_colour_conversion_rgb_and_gray(benchmark, frames):
    benchmark(to_rgb_and_gray, frames[0])


def test_colour_conversion_gray_only(benchmark, frames):
    benchmark(to_gray, frames[0])


def test_face_detection_640x480(benchmark, frames, stream_time):
    rgb = to_rgb_and_gray(frames[0])[0]
    with emoplay.detection.FaceDetector() as detector:
        found = benchmark(lambda: detector.detect(rgb, stream_time()))
    assert len(found) == 1


def test_letterbox_bgr_640x480(benchmark, frames):
    from emoplay.detection._letterbox import Letterbox

    letterbox = Letterbox()
    tensor = benchmark(letterbox.prepare, frames[0], "bgr")
    assert tensor.shape == (1, 128, 128, 3)


def test_change_check_of_one_held_face(benchmark, classifier, frames, face_box):
    """What a frame between detector runs costs besides its crop: the thumbnail and its change since the last run."""
    from emoplay.pipeline._reuse import CropReuse

    reuse = CropReuse(7, every=4, change=3.0, watch_changes=True)
    crops = classifier.crop_faces(frames[0], face_box[None], "bgr")
    reuse.probabilities(crops, (1,), classifier.classify_crops)  # the track's last run
    later = classifier.crop_faces(frames[1], face_box[None], "bgr")
    benchmark(lambda: reuse.changed(reuse.thumbnails_of(later), (1,)))


def test_crop_one_face(benchmark, classifier, frames, face_box):
    gray = to_rgb_and_gray(frames[0])[1]
    benchmark(classifier.crop_faces, gray, face_box[None])


@pytest.mark.parametrize("faces", [1, 4])
def test_classification(benchmark, classifier, crops, faces):
    probs = benchmark(classifier.classify_crops, crops[:faces])
    assert probs.shape == (faces, 7)


def test_tracker_update_one_face(benchmark, face_box, stream_time):
    tracker = emoplay.pipeline.FaceTracker()
    boxes, scores = face_box[None], np.array([0.95])
    benchmark(lambda: tracker.update(boxes, stream_time(), scores))


def test_debouncer_update(benchmark, stream_time):
    debouncer = emoplay.pipeline.Debouncer(emoplay.EMOTIONS)
    probs = np.full(7, 0.1)
    probs[6] = 0.4
    benchmark(lambda: debouncer.update(1, probs, stream_time()))


@pytest.mark.parametrize("detect_every", [1, 2])
def test_pipeline_one_face(benchmark, frames, cycle, stream_time, detect_every):
    next_frame = cycle(frames)
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(detect_every=detect_every)) as pipeline:
        benchmark(lambda: pipeline.process(next_frame(), stream_time()))


def test_pipeline_four_faces(benchmark, four_faces, cycle, stream_time):
    next_frame = cycle(four_faces)
    with emoplay.pipeline.EmotionPipeline() as pipeline:
        result = benchmark(lambda: pipeline.process(next_frame(), stream_time()))
    assert len(result.detections) == 4
