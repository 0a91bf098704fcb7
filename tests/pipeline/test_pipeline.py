"""The real pipeline (MediaPipe detector + our ONNX model) on real videos and on frames built from FER2013 faces."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.detection
import emoplay.pipeline
from emoplay import EmotionChanged, FaceFound, FaceLost
from tests.support import run_video


@pytest.fixture(scope="module")
def pipeline():
    with emoplay.pipeline.EmotionPipeline() as p:
        yield p


def test_single_face_video_one_face_then_happy(pipeline, video):
    events, _, _ = run_video(pipeline, video("single_face.mp4"))
    faces = [e for e in events if isinstance(e, (FaceFound, FaceLost))]
    assert [type(e) for e in faces] == [FaceFound, FaceLost]
    assert faces[0].is_primary
    emotions = [e for e in events if isinstance(e, EmotionChanged)]
    assert {e.track_id for e in emotions} == {faces[0].track_id}
    # neutral, then a broad smile from about 0.8 s: happy is the last state and comes once, after the smile starts
    assert emotions[-1].current == "happy"
    assert [e.current for e in emotions].count("happy") == 1
    assert 0.8 <= emotions[-1].timestamp <= 1.4
    assert len(emotions) <= 3
    assert emotions[0].previous == "unknown"
    assert abs(sum(emotions[-1].probabilities.values()) - 1) < 1e-3


@pytest.mark.slow
def test_face_leaves_the_scene(pipeline, video):
    events, _, last = run_video(pipeline, video("face_then_noface.mov"))
    faces = [e for e in events if isinstance(e, (FaceFound, FaceLost))]
    assert [type(e) for e in faces] == [FaceFound, FaceLost]
    assert faces[0].timestamp < 0.5
    assert 2.5 < faces[1].timestamp < last - 1.0  # lost while the video still runs, after the grace period


@pytest.mark.slow
def test_face_enters_the_scene(pipeline, video):
    events, _, _ = run_video(pipeline, video("noface_then_face.mov"))
    found = [e for e in events if isinstance(e, FaceFound)]
    assert len(found) == 1
    assert 3.0 < found[0].timestamp < 4.5
    assert not [e for e in events if isinstance(e, EmotionChanged) and e.timestamp < found[0].timestamp]


def test_animation_without_a_real_face_gives_no_events(pipeline, video):
    events, _, _ = run_video(pipeline, video("no_face_animation.mp4"))
    assert events == []


def test_fer_faces_upscaled_are_detected_and_classified(pipeline, happy_and_neutral_frames):
    for expected, frames in happy_and_neutral_frames.items():
        assert len(frames) == 3, f"fewer than 3 confident {expected} faces found in val.npz"
        pipeline.end_stream(0.0)
        t, changes = 0.0, []
        for _ in range(20):  # a still photo held in front of the camera for 2/3 s
            result = pipeline.process(frames[0], t)
            changes += [e for e in result.events if isinstance(e, EmotionChanged)]
            t += 1 / 30
        assert [e.current for e in changes] == [expected]


@pytest.mark.slow
def test_fer_faces_upscaled_with_context_are_mostly_detected(fer_val):
    from tests.support import face_frame

    images, _, _ = fer_val
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as det:
        found = sum(len(det.detect(face_frame(img)[:, :, ::-1].copy())) == 1 for img in images[:100])
    assert found >= 80  # measured: 90 of the first 100 val faces (240 px face, 120 px replicated context)


@pytest.mark.parametrize("channels", ["bgr", "rgb", "gray", "gray1", "bgra"])
def test_every_pixel_format_gives_the_same_result(pipeline, happy_and_neutral_frames, channels):
    import cv2

    bgr = happy_and_neutral_frames["happy"][1]
    variants = {
        "bgr": (bgr, "bgr"),
        "rgb": (cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), "rgb"),
        "gray": (bgr[:, :, 0].copy(), "bgr"),
        "gray1": (bgr[:, :, :1].copy(), "bgr"),
        "bgra": (cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA), "bgr"),
    }
    pixels, order = variants[channels]
    pipeline.end_stream(0.0)
    reference = pipeline.process(bgr, 100.0)
    pipeline.end_stream(0.0)
    result = pipeline.process(pixels, 200.0, order)
    assert len(result.detections) == len(reference.detections) == 1
    np.testing.assert_allclose(result.probabilities, reference.probabilities, atol=1e-4)


def test_empty_and_malformed_frames_are_clear_errors(pipeline):
    with pytest.raises(emoplay.SourceError, match="empty frame"):
        pipeline.process(np.zeros((0, 0, 3), np.uint8), 0.0)
    with pytest.raises(ValueError, match="unsupported frame shape"):
        pipeline.process(np.zeros((10, 10, 2), np.uint8), 0.0)
    with pytest.raises(TypeError, match="uint8"):
        pipeline.process(np.zeros((10, 10, 3), np.float32), 0.0)


def test_timestamps_must_be_finite_and_in_order_within_a_stream(pipeline, happy_and_neutral_frames):
    frame = happy_and_neutral_frames["happy"][0]
    pipeline.end_stream(0.0)
    pipeline.process(frame, 10.0)
    for bad in (float("nan"), float("inf"), "soon"):
        with pytest.raises(ValueError, match="finite number of seconds"):
            pipeline.process(frame, bad)
    with pytest.raises(ValueError, match="earlier than the previous frame.s 10.0.*end_stream"):
        pipeline.process(frame, 9.5)
    pipeline.process(frame, 10.0)  # the same moment again is fine (a host submitting one frame twice)
    pipeline.end_stream(10.0)
    pipeline.process(frame, 0.0)  # a new stream starts its own clock


@pytest.mark.parametrize("make", [
    lambda: emoplay.PipelineOptions(reuse_unchanged_crops="no"), lambda: emoplay.PipelineOptions(alternate_views="false"),
    lambda: emoplay.PipelineOptions(redetect_on_change=1), lambda: emoplay.PipelineOptions(auto_calibration=True),
    lambda: emoplay.DetectorOptions(video_mode="off"),
])
def test_options_refuse_values_that_would_silently_act_as_true(make):
    with pytest.raises(TypeError, match="must be"):
        make()


def test_a_detector_blink_between_held_frames_does_not_end_the_face(video):
    """With detect_every > 1 the frames between detector runs keep the face seen, so one missed detection ends it no
    sooner than with detect_every=1 (the tracker's grace counts from the last frame the face was held on)."""
    import cv2

    capture = cv2.VideoCapture(str(video("single_face.mp4")))
    ok, frame = capture.read()
    capture.release()
    assert ok
    kinds = {}
    for every in (1, 4):
        with emoplay.pipeline.EmotionPipeline(emoplay.PipelineOptions(detect_every=every)) as p:
            real = p.detector.detect

            def blinking(pixels, timestamp=None, color_order="rgb", real=real):
                return emoplay.detection.Detections() if timestamp == 2.0 else real(pixels, timestamp, color_order)

            p.detector.detect = blinking  # the detector misses the face once, at 2 s
            events = [e for i in range(20) for e in p.process(frame, i / 5).events]  # a still face at 5 fps
        kinds[every] = [(type(e).__name__, getattr(e, "track_id", None)) for e in events
                        if isinstance(e, (FaceFound, FaceLost))]
    assert kinds[4] == kinds[1] == [("FaceFound", 1)]


def test_several_faces_are_classified_in_one_batch(pipeline, happy_and_neutral_frames):
    row = np.hstack([happy_and_neutral_frames["happy"][0], happy_and_neutral_frames["neutral"][0]])
    pipeline.end_stream(0.0)
    result = pipeline.process(row, 0.0)
    assert len(result.detections) == 2
    assert result.probabilities.shape == (2, 7)
    left_first = np.argsort(result.detections.boxes[:, 0])
    names = [emoplay.EMOTIONS[int(i)] for i in result.probabilities[left_first].argmax(1)]
    assert names == ["happy", "neutral"]
