"""The pipeline's work-saving options: unchanged crops reuse probabilities, detection every Nth frame."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
from emoplay import EmotionChanged, FaceFound, FaceLost
from emoplay._frames import to_gray, to_rgb_and_gray
from conftest import run_video


def events_of(options, path):
    with emoplay.EmotionPipeline(options) as pipeline:
        events, probs, _ = run_video(pipeline, path)
    return events, probs


class CountingClassifier:
    """Wraps the real classifier and counts the crops it is asked to run the model on."""

    def __init__(self, classifier):
        self.inner, self.crops_run = classifier, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def classify_crops(self, faces):
        self.crops_run += len(faces)
        return self.inner.classify_crops(faces)


def test_detect_every_must_be_a_positive_int():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="detect_every"):
            emoplay.PipelineOptions(detect_every=bad)


def test_reusing_unchanged_crops_changes_no_result(video):
    path = video("single_face.mp4")
    # classify_every=1: the byte-equal shortcut alone (test_classify_every.py has the every-Nth-frame one)
    reference, ref_probs = events_of(emoplay.PipelineOptions(reuse_unchanged_crops=False, classify_every=1), path)
    events, probs = events_of(emoplay.PipelineOptions(classify_every=1), path)
    assert events == reference
    for a, b in zip(probs, ref_probs):
        np.testing.assert_array_equal(a, b)


def test_a_repeated_frame_is_classified_once(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][0]
    with emoplay.EmotionPipeline() as pipeline:
        pipeline.classifier = counting = CountingClassifier(pipeline.classifier)
        results = [pipeline.process(frame, k / 30) for k in range(10)]
        assert counting.crops_run == 1
        changes = [e.current for r in results for e in r.events if isinstance(e, EmotionChanged)]
        assert changes == ["happy"]
        pipeline.process(happy_and_neutral_frames["neutral"][0], 10 / 30)  # a new face is classified again
        assert counting.crops_run == 2
    with emoplay.EmotionPipeline(emoplay.PipelineOptions(reuse_unchanged_crops=False, classify_every=1)) as pipeline:
        reference = [pipeline.process(frame, k / 30) for k in range(10)]
    for a, b in zip(results, reference):
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
        assert a.events == b.events


def test_detecting_every_second_frame_keeps_the_emotion_events(video):
    path = video("single_face.mp4")
    reference, _ = events_of(emoplay.PipelineOptions(detect_every=1), path)
    events, probs = events_of(emoplay.PipelineOptions(), path)  # the default: every second frame
    assert [type(e) for e in events] == [type(e) for e in reference]
    reference = [e for e in reference if not isinstance(e, emoplay.PrimaryFaceChanged)]
    events = [e for e in events if not isinstance(e, emoplay.PrimaryFaceChanged)]
    assert all(len(p) == 1 for p in probs)  # every frame still has its face and probabilities
    # the smile is reported at the same moment; the face is confirmed after 3 detections, so 2 frames later
    smile, ref_smile = events[-2], reference[-2]
    assert isinstance(smile, EmotionChanged) and smile.current == ref_smile.current == "happy"
    assert smile.timestamp == pytest.approx(ref_smile.timestamp, abs=1 / 30 + 1e-9)
    found, ref_found = events[0], reference[0]
    assert isinstance(found, FaceFound) and 0 <= found.timestamp - ref_found.timestamp <= 2 / 30 + 1e-9
    assert isinstance(events[-1], FaceLost)


def test_the_detector_runs_only_on_every_nth_frame(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["neutral"][1]
    with emoplay.EmotionPipeline(emoplay.PipelineOptions(detect_every=3)) as pipeline:
        calls = []
        detect = pipeline.detector.detect
        pipeline.detector.detect = lambda pixels, t=None, order="rgb": calls.append(t) or detect(pixels, t, order)
        results = [pipeline.process(frame, k / 30) for k in range(7)]
        assert calls == pytest.approx([0, 3 / 30, 6 / 30])
        assert all(len(r.detections) == 1 and r.probabilities.shape == (1, 7) for r in results)
        pipeline.end_stream(1.0)  # a new stream starts with a detection
        pipeline.process(frame, 2.0)
        assert calls[-1] == 2.0


@pytest.mark.parametrize("order", ["bgr", "rgb"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_gray_alone_equals_the_gray_of_both_views(order, channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, (48, 64, channels), dtype=np.uint8)
    if channels == 1:
        pixels = pixels[:, :, 0]
    np.testing.assert_array_equal(to_gray(pixels, order), to_rgb_and_gray(pixels, order)[1])
