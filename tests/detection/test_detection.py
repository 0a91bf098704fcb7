"""The detector's parts on hand-computed cases: anchors, decoding, weighted NMS, letterbox; its errors."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.detection
from emoplay._model_files import models_dir
from emoplay.detection._anchors import FULL_RANGE, ssd_anchor_centres
from emoplay.detection._decode import Candidates, decode, sigmoid_scores
from emoplay.detection._letterbox import Letterbox
from emoplay.detection._nms import iou_with, weighted_nms


def test_full_range_anchors_are_one_48x48_grid_of_1():
    anchors = ssd_anchor_centres(FULL_RANGE.input_size, FULL_RANGE.strides, FULL_RANGE.anchors_per_layer)
    assert anchors.shape == (2304, 2) and FULL_RANGE.num_anchors == 2304
    # centres at (k + 0.5) / 48, cells row by row
    np.testing.assert_allclose(anchors[[0, 1, 48, 2303]], [[1 / 96, 1 / 96], [3 / 96, 1 / 96], [1 / 96, 3 / 96],
                                                           [95 / 96, 95 / 96]], rtol=1e-6)


def test_anchors_are_a_16x16_grid_of_2_then_an_8x8_grid_of_6():
    anchors = ssd_anchor_centres()
    assert anchors.shape == (896, 2)
    # 16x16 grid (stride 8), 2 anchors per cell, cells row by row: centres at (k + 0.5) / 16.
    assert anchors[0].tolist() == anchors[1].tolist() == [1 / 32, 1 / 32]
    assert anchors[2].tolist() == [3 / 32, 1 / 32]  # next column
    assert anchors[32].tolist() == [1 / 32, 3 / 32]  # next row: 16 cells x 2 anchors later
    assert anchors[511].tolist() == [31 / 32, 31 / 32]
    # 8x8 grid (three stride-16 layers merged), 6 anchors per cell: centres at (k + 0.5) / 8.
    assert all(a.tolist() == [1 / 16, 1 / 16] for a in anchors[512:518])
    assert anchors[518].tolist() == [3 / 16, 1 / 16]
    assert anchors[512 + 8 * 6].tolist() == [1 / 16, 3 / 16]
    assert anchors[895].tolist() == [15 / 16, 15 / 16]


def test_scores_are_the_sigmoid_of_the_clipped_logit():
    scores = sigmoid_scores(np.array([0.0, np.log(3.0), 500.0, -500.0], np.float32))
    assert scores[0] == pytest.approx(0.5)
    assert scores[1] == pytest.approx(0.75)  # 1 / (1 + 1/3)
    assert scores[2] == pytest.approx(1 / (1 + np.exp(-100.0)))  # clipped at 100, no overflow warning
    assert scores[3] == pytest.approx(1 / (1 + np.exp(100.0)), abs=1e-45)


def test_decode_offsets_boxes_and_keypoints_from_the_anchor_in_input_pixels():
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    regressors = np.zeros((2, 16), np.float32)
    # anchor 0: centre moved by (+12.8, -6.4) px of 128, box 25.6 x 51.2 px, first keypoint at +(6.4, 0) px.
    regressors[0, :6] = [12.8, -6.4, 25.6, 51.2, 6.4, 0.0]
    logits = np.array([np.log(3.0), -1.0], np.float32)  # scores 0.75 and 0.27
    found = decode(regressors, logits, anchors, min_score=0.5)
    assert len(found) == 1
    # centre (0.25 + 0.1, 0.5 - 0.05) = (0.35, 0.45); half sizes 0.1 and 0.2.
    np.testing.assert_allclose(found.boxes[0], [0.25, 0.25, 0.45, 0.65], atol=1e-6)
    np.testing.assert_allclose(found.keypoints[0, 0], [0.30, 0.5], atol=1e-6)
    np.testing.assert_allclose(found.keypoints[0, 1:], [[0.25, 0.5]] * 5, atol=1e-6)  # zero offsets: the anchor
    assert found.scores[0] == pytest.approx(0.75)


def test_iou_of_hand_drawn_boxes():
    box = np.array([0, 0, 2, 2], np.float32)
    others = np.array([[1, 1, 3, 3], [0, 0, 2, 2], [5, 5, 6, 6], [0, 0, 2, 1]], np.float32)
    np.testing.assert_allclose(iou_with(box, others), [1 / 7, 1.0, 0.0, 0.5])


def _candidates(boxes, scores, keypoints=None):
    boxes = np.asarray(boxes, np.float32)
    if keypoints is None:
        keypoints = np.zeros((len(boxes), 6, 2), np.float32)
    return Candidates(boxes, np.asarray(keypoints, np.float32), np.asarray(scores, np.float32))


def test_weighted_nms_averages_a_cluster_by_score_and_keeps_the_best_score():
    keypoints = np.zeros((3, 6, 2), np.float32)
    keypoints[0, 0], keypoints[1, 0] = (0.2, 0.2), (0.4, 0.2)
    # B overlaps A with IoU 0.8 (> 0.3): one face. C is far away: a face of its own.
    found = weighted_nms(_candidates([[0, 0, 1, 0.8], [0, 0, 1, 1], [2, 2, 3, 3]], [0.6, 0.9, 0.7], keypoints), 0.3)
    assert found.scores.tolist() == pytest.approx([0.9, 0.7])
    # weights 0.9 (A) and 0.6 (B), total 1.5: ymax = (0.9 * 1 + 0.6 * 0.8) / 1.5 = 0.92
    np.testing.assert_allclose(found.boxes[0], [0, 0, 1, 0.92], atol=1e-6)
    np.testing.assert_allclose(found.keypoints[0, 0], [(0.9 * 0.4 + 0.6 * 0.2) / 1.5, 0.2], atol=1e-6)
    np.testing.assert_allclose(found.boxes[1], [2, 2, 3, 3])


def test_weighted_nms_keeps_boxes_that_overlap_less_than_the_threshold():
    # IoU of [0,0,1,1] and [0.6,0,1.6,1] is 0.4 / 1.6 = 0.25 < 0.3: two faces, in score order.
    found = weighted_nms(_candidates([[0.6, 0, 1.6, 1], [0, 0, 1, 1]], [0.55, 0.8]), 0.3)
    np.testing.assert_allclose(found.boxes, [[0, 0, 1, 1], [0.6, 0, 1.6, 1]])
    assert found.scores.tolist() == pytest.approx([0.8, 0.55])
    assert len(weighted_nms(_candidates(np.zeros((0, 4)), []), 0.3)) == 0


def test_letterbox_pads_a_landscape_frame_top_and_bottom():
    box = Letterbox()
    white = np.full((480, 640, 3), 255, np.uint8)
    tensor = box.prepare(white)
    assert tensor.shape == (1, 128, 128, 3)
    # 640x480 scaled by 0.2 is 128x96, centred: 16 rows of black (-1) above and below.
    assert np.all(tensor[0, :15] == -1.0) and np.all(tensor[0, 113:] == -1.0)
    assert np.all(tensor[0, 17:111] == 1.0)
    np.testing.assert_allclose(box.to_frame(np.array([[0.5, 0.125], [0.0, 0.875]])), [[0.5, 0.0], [0.0, 1.0]])


def test_letterbox_pads_a_portrait_frame_left_and_right():
    box = Letterbox()
    tensor = box.prepare(np.full((640, 480, 3), 255, np.uint8))
    assert np.all(tensor[0, :, :15] == -1.0) and np.all(tensor[0, :, 17:111] == 1.0)
    np.testing.assert_allclose(box.to_frame(np.array([0.125, 0.5, 0.875, 1.0])), [0.0, 0.5, 1.0, 1.0])


def test_letterbox_samples_frame_pixel_indices_as_mediapipe_does():
    # Model pixel u samples frame column 5u exactly (MediaPipe's warp), not the pixel-centre 5u + 2 of cv2.resize.
    frame = np.zeros((480, 640, 3), np.uint8)
    frame[:, np.arange(640) % 5 != 0] = 255
    tensor = Letterbox().prepare(frame)
    assert np.all(tensor[0, 17:111, 1:127] == -1.0)


def test_letterbox_reuses_its_buffer():
    box = Letterbox()
    first = box.prepare(np.zeros((480, 640, 3), np.uint8))
    assert box.prepare(np.zeros((360, 640, 3), np.uint8)) is first


def test_letterbox_gives_every_colour_order_the_same_rgb_input():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (480, 640, 3), np.uint8)
    box = Letterbox()
    expected = box.prepare(rgb).copy()
    for pixels, order in ((rgb[:, :, ::-1].copy(), "bgr"), (np.dstack([rgb[:, :, ::-1], rgb[:, :, :1]]), "bgr"),
                          (np.dstack([rgb, rgb[:, :, :1]]), "rgb")):
        np.testing.assert_array_equal(box.prepare(pixels, order), expected)


@pytest.mark.parametrize("model_range", ["short", "full"])
def test_the_detectors_downscaled_copy_of_a_frame_is_zeroed_once_the_model_ran(fer_val, model_range):
    from tests.support import face_frame

    images, _, _ = fer_val
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False, range=model_range)) as detector:
        for frame, order in ((face_frame(images[0]), "bgr"), (face_frame(images[0])[:, :, 0].copy(), "rgb")):
            assert len(detector.detect(frame, color_order=order)) == 1
            assert detector.last_range == model_range
            box = detector._models[model_range].letterbox
            buffers = [box.tensor, box._rgb, *box._pixels.values()]
            assert not any(buffer.any() for buffer in buffers), "a downscaled copy of the frame was left behind"


def test_every_pixel_format_gives_the_rgb_frames_detections(fer_val):
    import cv2

    from tests.support import face_frame

    images, _, _ = fer_val
    bgr = face_frame(images[0])
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    gray = bgr[:, :, 0].copy()
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        expected = detector.detect(rgb)
        assert len(expected) == 1
        same = [detector.detect(bgr, color_order="bgr"), detector.detect(cv2.cvtColor(bgr, cv2.COLOR_BGR2BGRA),
                                                                          color_order="bgr"),
                detector.detect(cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA)), detector.detect(bgr[:, :, ::-1])]
        from_gray = detector.detect(gray), detector.detect(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB))
    for found in same:
        np.testing.assert_array_equal(found.boxes, expected.boxes)
        np.testing.assert_array_equal(found.scores, expected.scores)
    np.testing.assert_array_equal(from_gray[0].boxes, from_gray[1].boxes)
    np.testing.assert_array_equal(from_gray[0].scores, from_gray[1].scores)


def test_a_blank_frame_has_no_face_and_an_empty_result():
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        found = detector.detect(np.full((480, 640, 3), 128, np.uint8))
    assert len(found) == 0 and found.boxes.shape == (0, 4) and found.keypoints.shape == (0, 6, 2)


def test_detector_errors_say_what_to_do():
    with emoplay.detection.FaceDetector() as detector:
        with pytest.raises(ValueError, match="timestamp"):
            detector.detect(np.zeros((48, 64, 3), np.uint8))
        with pytest.raises(TypeError, match="uint8"):
            detector.detect(np.zeros((48, 64, 3), np.float32), 0.0)
        with pytest.raises(ValueError, match="unsupported frame shape"):
            detector.detect(np.zeros((48, 64, 5), np.uint8), 0.0)
        with pytest.raises(ValueError, match="color_order"):
            detector.detect(np.zeros((48, 64, 3), np.uint8), 0.0, color_order="yuv")
    with pytest.raises(emoplay.SensorClosedError, match="create a new one"):
        detector.detect(np.zeros((48, 64, 3), np.uint8), 0.0)
    with pytest.raises(emoplay.ModelError, match="not a BlazeFace short-range"):
        emoplay.detection.FaceDetector(emoplay.DetectorOptions(model_path=str(models_dir() / "emotion_cnn.onnx")))
    with pytest.raises(emoplay.ModelError, match="not a BlazeFace full-range .*full_range_model_path=None"):
        emoplay.detection.FaceDetector(emoplay.DetectorOptions(range="full", full_range_model_path=str(
            models_dir() / "face_detector.onnx")))
    with pytest.raises(ValueError, match="range must be one of 'short', 'full', 'auto'"):
        emoplay.DetectorOptions(range="far")
    with pytest.raises(ValueError, match="threads"):
        emoplay.DetectorOptions(threads=0)
    with pytest.raises(ValueError, match="min_confidence"):
        emoplay.DetectorOptions(min_confidence=float("nan"))
    with pytest.raises(ValueError, match="min_suppression"):
        emoplay.DetectorOptions(min_suppression=1.0)
