"""Classifying a stable face at a lower rate than the camera (``classify_every``), and crops cut from colour frames.

Real detector, real model, real videos. The event comparison is not timed: it compares what was reported.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from emoplay import EmotionChanged, FaceFound, FaceLost
from emoplay._frames import to_gray
from tests.support import run_video


def noisy(frame: np.ndarray, seed: int, sigma: float = 2.0) -> np.ndarray:
    """The frame with camera-like sensor noise: no two such frames (nor their face crops) are byte-equal."""
    rng = np.random.default_rng(seed)
    return np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)


def test_classify_every_and_reclassify_change_are_validated():
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="classify_every"):
            emoplay.PipelineOptions(classify_every=bad)
    for bad in (-1, math.nan, 256):
        with pytest.raises(ValueError, match="reclassify_change"):
            emoplay.PipelineOptions(reclassify_change=bad)
    with pytest.raises(TypeError, match="reclassify_change"):
        emoplay.PipelineOptions(reclassify_change="3")


@pytest.mark.parametrize("every", [1, 2, 3])
def test_a_still_face_is_classified_on_every_nth_frame(happy_and_neutral_frames, every):
    frame = happy_and_neutral_frames["neutral"][0]
    # The same frame again and again, with the byte-equal shortcut off: only the every-Nth rule saves runs.
    options = emoplay.PipelineOptions(classify_every=every, reuse_unchanged_crops=False)
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        runs = []
        for k in range(12):
            result = pipeline.process(frame, k / 30)
            assert result.probabilities.shape == (1, 7)  # every frame has its probabilities
            runs.append(pipeline._reuse.model_runs)
    assert runs == [k // every + 1 for k in range(12)]


@pytest.mark.slow
def test_a_face_that_changed_is_classified_at_once(happy_and_neutral_frames):
    neutral, happy = happy_and_neutral_frames["neutral"][0], happy_and_neutral_frames["happy"][0]
    frames = [noisy(neutral, k) for k in range(6)] + [noisy(happy, k) for k in range(6, 12)]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=1)) as pipeline:
        reference = [pipeline.process(f, k / 30).probabilities for k, f in enumerate(frames)]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=4)) as pipeline:
        got, runs = [], []
        for k, f in enumerate(frames):
            got.append(pipeline.process(f, k / 30).probabilities)
            runs.append(pipeline._reuse.model_runs)
    # frame 6 is the first happy one: not a 4th frame (the model last ran on frame 4), yet classified at once
    assert runs[6] == runs[5] + 1
    np.testing.assert_allclose(got[6], reference[6], atol=0.05)  # the same face, its box held from frame 6
    assert np.argmax(got[6]) == emoplay.EMOTIONS.index("happy")
    assert runs[-1] < len(frames)  # and still fewer model runs than frames


def test_a_new_stream_and_a_new_track_are_classified_first(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][1]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=5)) as pipeline:
        pipeline.process(noisy(frame, 0), 0.0)
        pipeline.process(noisy(frame, 1), 1 / 30)
        assert pipeline._reuse.model_runs == 1
        (kept,) = pipeline._reuse._kept.values()
        assert kept.thumbnail.any()
        pipeline.end_stream(2 / 30)
        assert not kept.thumbnail.any()  # the face's thumbnail is zeroed, not left in freed memory
        pipeline.process(noisy(frame, 2), 1.0)  # the same face, but a new stream: no probabilities carried over
        assert pipeline._reuse.model_runs == 2


def change_events(events):
    return [(type(e).__name__, getattr(e, "current", None), e.timestamp) for e in events
            if isinstance(e, (EmotionChanged, FaceFound, FaceLost))]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["single_face.mp4", "face_then_noface.mov"])
def test_classifying_every_second_frame_keeps_the_events_of_a_real_video(video, name):
    """Tolerance: the same events in the same order, each at most one frame (1/fps) from where it came with
    classify_every=1; faces are found and lost at the very same moments (tracking does not depend on it)."""
    path = video(name)
    # The detector on every frame in both: with detect_every > 1 a changed crop also triggers it, and then
    # found/lost moments depend on when the model last ran (test_pipeline_speed.py checks the defaults).
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=1, detect_every=1)) as pipeline:
        reference, _, last = run_video(pipeline, path)
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=2, detect_every=1)) as pipeline:
        events, probs, _ = run_video(pipeline, path)
        runs, frames = pipeline._reuse.model_runs, len(probs)
    reference, events = change_events(reference), change_events(events)
    assert [e[:2] for e in events] == [e[:2] for e in reference]
    assert any(e[1] == "happy" for e in events)  # the smile of both clips is reported
    frame_s = last / (frames - 1)
    for (kind, _, t), (_, _, t_ref) in zip(events, reference):
        if kind == "EmotionChanged":
            assert abs(t - t_ref) <= frame_s + 1e-6, (kind, t, t_ref)
        else:
            assert t == t_ref
    assert runs <= 0.7 * sum(len(p) for p in probs)  # the model ran on well under every frame's face


@pytest.mark.parametrize("order", ["bgr", "rgb"])
@pytest.mark.parametrize("channels", [3, 4])
def test_crops_cut_from_a_colour_frame_equal_crops_from_its_gray_frame(happy_and_neutral_frames, order, channels):
    rng = np.random.default_rng(channels)
    colour = rng.integers(0, 256, (360, 480, channels), dtype=np.uint8)
    colour[60:300, 60:300, :3] = happy_and_neutral_frames["happy"][0][:240, :240]
    # inside, over the left/top edges, over the right/bottom edges, and wholly outside the frame
    boxes = np.array([[80, 90, 150, 160], [-40, -30, 120, 110], [400, 300, 140, 130], [600, 500, 40, 40]])
    with emoplay.pipeline.EmotionClassifier() as classifier:
        from_colour = classifier.crop_faces(colour, boxes, order)
        from_gray = classifier.crop_faces(to_gray(colour, order), boxes)
        np.testing.assert_array_equal(from_colour, from_gray)
        np.testing.assert_array_equal(classifier.classify(colour, boxes[:1], order),
                                      classifier.classify(to_gray(colour, order), boxes[:1]))


class ViewSpy:
    """Records the mirrored flags of every classify_views call the pipeline makes (and classify_crops calls)."""

    def __init__(self, pipeline):
        self.calls, self.crop_calls = [], 0
        inner_views, inner_crops = pipeline.classifier.classify_views, pipeline.classifier.classify_crops

        def views(faces, mirrored, raw=False):
            self.calls.append([bool(m) for m in mirrored])
            return inner_views(faces, mirrored, raw)

        def crops(faces):
            self.crop_calls += 1
            return inner_crops(faces)

        pipeline.classifier.classify_views, pipeline.classifier.classify_crops = views, crops


@pytest.mark.slow
def test_a_stable_face_is_refreshed_with_one_view_at_a_time(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][1]
    frames = [noisy(frame, k) for k in range(13)]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=4)) as pipeline:
        spy = ViewSpy(pipeline)
        results = [pipeline.process(f, k / 30) for k, f in enumerate(frames)]
        # the new face: both views at once; then every 4th frame the view the last run did not use
        assert spy.calls == [[False, True], [False], [True], [False]] and spy.crop_calls == 0
        crops = pipeline.classifier.crop_faces(frames[12], results[12].detections.boxes)
        both = pipeline.classifier.classify_crops(crops)
    # frame 12's probabilities: its face view averaged with frame 8's mirror view (the same face, other noise)
    np.testing.assert_allclose(results[12].probabilities, both, atol=0.03)
    assert np.argmax(results[12].probabilities) == emoplay.EMOTIONS.index("happy")


def test_a_changed_face_gets_one_view_at_once_and_the_other_on_the_next_frame(happy_and_neutral_frames):
    neutral, happy = happy_and_neutral_frames["neutral"][0], happy_and_neutral_frames["happy"][0]
    frames = [noisy(neutral, k) for k in range(6)] + [noisy(happy, k) for k in range(6, 9)]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=4)) as pipeline:
        spy = ViewSpy(pipeline)
        results = []
        for k, f in enumerate(frames):
            before = len(spy.calls)
            results.append(pipeline.process(f, k / 30))
            if k in (6, 7):  # the change: one view at once; the other view the next frame
                assert len(spy.calls) == before + 1 and len(spy.calls[-1]) == 1, (k, spy.calls)
        views6, views7 = spy.calls[-2], spy.calls[-1]
        assert views6 != views7  # the two views of the happy face
        classifier = pipeline.classifier
        c6 = classifier.crop_faces(frames[6], results[6].detections.boxes)
        c7 = classifier.crop_faces(frames[7], results[7].detections.boxes)
        v6 = classifier.classify_views(c6, views6, raw=True)
        v7 = classifier.classify_views(c7, views7, raw=True)
        np.testing.assert_array_equal(results[6].probabilities, classifier.combine_views([v6]))  # alone
        np.testing.assert_array_equal(results[7].probabilities, classifier.combine_views([v6, v7]))  # both
    assert np.argmax(results[7].probabilities) == emoplay.EMOTIONS.index("happy")


def test_alternate_views_off_runs_both_views_each_time(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][1]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=2, alternate_views=False)) as pipeline:
        spy = ViewSpy(pipeline)
        for k in range(6):
            pipeline.process(noisy(frame, k), k / 30)
        assert spy.calls == [] and spy.crop_calls == 3


def test_the_views_thumbnails_are_zeroed_when_the_stream_ends(happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][1]
    with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(classify_every=2)) as pipeline:
        for k in range(5):
            pipeline.process(noisy(frame, k), k / 30)
        (kept,) = pipeline._reuse._kept.values()
        thumbs = [kept.thumbnail] + [thumb for _, thumb in kept.views.values()]
        assert len(kept.views) == 2 and all(t.any() for t in thumbs)
        pipeline.end_stream(1.0)
        assert not any(t.any() for t in thumbs)
