"""The pipeline's work-saving options: unchanged crops reuse probabilities, detection every Nth frame."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from emoplay import EmotionChanged, FaceFound, FaceLost
from emoplay._frames import to_gray, to_rgb_and_gray
from tests.support import run_video


def events_of(options, path):
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
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

    def classify_views(self, faces, mirrored, raw=False):  # alternating views: a row per view, so count crops
        self.crops_run += len({face.tobytes() for face in faces})
        return self.inner.classify_views(faces, mirrored, raw)


def test_detect_every_must_be_a_positive_int():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="detect_every"):
            emoplay.PipelineOptions(detect_every=bad)


@pytest.mark.slow
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
    with emoplay.pipeline.EmotionPipeline() as pipeline:
        pipeline.classifier = counting = CountingClassifier(pipeline.classifier)
        results = [pipeline.process(frame, k / 30) for k in range(30)]  # 1 s: the default preset reports it
        assert counting.crops_run == 1
        changes = [e.current for r in results for e in r.events if isinstance(e, EmotionChanged)]
        assert changes == ["happy"]
        pipeline.process(happy_and_neutral_frames["neutral"][0], 30 / 30)  # a new face is classified again
        assert counting.crops_run == 2
    options = emoplay.PipelineOptions(reuse_unchanged_crops=False, classify_every=1)
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        reference = [pipeline.process(frame, k / 30) for k in range(30)]
    for a, b in zip(results, reference):
        np.testing.assert_array_equal(a.probabilities, b.probabilities)
        assert a.events == b.events


@pytest.mark.slow
def test_detecting_every_second_frame_keeps_the_emotion_events(video):
    path = video("single_face.mp4")
    reference, _ = events_of(emoplay.PipelineOptions(detect_every=1), path)
    events, probs = events_of(emoplay.PipelineOptions(detect_every=2), path)  # at least every second frame
    assert [type(e) for e in events] == [type(e) for e in reference]
    reference = [e for e in reference if not isinstance(e, emoplay.PrimaryFaceChanged)]
    events = [e for e in events if not isinstance(e, emoplay.PrimaryFaceChanged)]
    assert all(len(p) == 1 for p in probs)  # every frame still has its face and probabilities
    # the smile is reported at the same moment; the face is confirmed after 3 detections (on every frame
    # while it awaits confirmation), so at most 2 frames later
    smile, ref_smile = events[-2], reference[-2]
    assert isinstance(smile, EmotionChanged) and smile.current == ref_smile.current == "happy"
    assert smile.timestamp == pytest.approx(ref_smile.timestamp, abs=1 / 30 + 1e-9)
    found, ref_found = events[0], reference[0]
    assert isinstance(found, FaceFound) and 0 <= found.timestamp - ref_found.timestamp <= 2 / 30 + 1e-9
    assert isinstance(events[-1], FaceLost)


def counting_detections(pipeline) -> list:
    """The stream times the pipeline's detector runs at, from now on."""
    calls = []
    detect = pipeline.detector.detect
    pipeline.detector.detect = lambda pixels, t=None, order="rgb": calls.append(t) or detect(pixels, t, order)
    return calls


def test_the_detector_runs_at_least_every_nth_frame_on_a_still_face(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["neutral"][1]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(detect_every=3)) as pipeline:
        calls = counting_detections(pipeline)
        results = [pipeline.process(frame, k / 30) for k in range(9)]
        # every frame until the face is confirmed (3 detections), then every 3rd frame
        assert calls == pytest.approx([0, 1 / 30, 2 / 30, 5 / 30, 8 / 30])
        assert isinstance(results[2].events[0], FaceFound)
        assert all(len(r.detections) == 1 and r.probabilities.shape == (1, 7) for r in results)
        pipeline.end_stream(1.0)  # a new stream starts with a detection
        pipeline.process(frame, 2.0)
        assert calls[-1] == 2.0


@pytest.mark.parametrize("classify_every", [1, 4])
def test_a_held_face_that_moves_is_detected_again_at_once(happy_and_neutral_frames, classify_every):
    frame = happy_and_neutral_frames["neutral"][1]
    moved = np.roll(frame, 60, axis=1)  # the face 60 px to the right
    for redetect in (True, False):
        options = emoplay.PipelineOptions(detect_every=8, classify_every=classify_every, redetect_on_change=redetect)
        with emoplay.pipeline.EmotionPipeline(options) as pipeline:
            calls = counting_detections(pipeline)
            still = [pipeline.process(frame, k / 30) for k in range(5)]
            assert calls == pytest.approx([0, 1 / 30, 2 / 30])  # confirmed, then stable: not due before frame 10
            after = pipeline.process(moved, 5 / 30)
        shift = after.detections.boxes[0][0] - still[-1].detections.boxes[0][0]
        if redetect:  # the crop from the held box changed: the detector runs on this frame, the box follows
            assert calls[-1] == pytest.approx(5 / 30)
            assert shift == pytest.approx(60, abs=3)
        else:  # the old behaviour: the box is held until the detector is due
            assert len(calls) == 3 and shift == 0


@pytest.mark.slow
def test_the_default_rates_keep_the_events_of_real_videos(video):
    """Detector and model at most every 4th frame on a stable face (the defaults) against both on every frame:
    the same events in the same order; emotion changes within 0.1 s, faces found and lost within a frame."""
    for name in ("single_face.mp4", "face_then_noface.mov", "noface_then_face.mov"):
        path = video(name)
        reference, _ = events_of(emoplay.PipelineOptions(detect_every=1, classify_every=1), path)
        with emoplay.pipeline.EmotionPipeline() as pipeline:
            calls = counting_detections(pipeline)
            events, probs, last = run_video(pipeline, path)
            runs = pipeline._reuse.model_runs
        assert [type(e) for e in events] == [type(e) for e in reference], name
        frame_s = last / (len(probs) - 1)
        for got, ref in zip(events, reference):
            emotion = isinstance(got, EmotionChanged)
            assert abs(got.timestamp - ref.timestamp) <= (0.1 if emotion else frame_s) + 1e-6, (name, got, ref)
            if emotion:  # (track ids may differ: a short false positive can take an id in one run only)
                assert (got.previous, got.current) == (ref.previous, ref.current), name
        faces = sum(len(p) for p in probs)
        assert len(calls) <= 0.6 * len(probs) and runs <= 0.6 * faces, (name, len(calls), runs, len(probs), faces)


@pytest.mark.parametrize("order", ["bgr", "rgb"])
@pytest.mark.parametrize("channels", [1, 3, 4])
def test_gray_alone_equals_the_gray_of_both_views(order, channels):
    rng = np.random.default_rng(channels)
    pixels = rng.integers(0, 256, (48, 64, channels), dtype=np.uint8)
    if channels == 1:
        pixels = pixels[:, :, 0]
    np.testing.assert_array_equal(to_gray(pixels, order), to_rgb_and_gray(pixels, order)[1])
