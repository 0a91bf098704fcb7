"""Evaluation metrics on hand-computed cases, perturbations, and evaluate() with the real model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support import face_frame, few_faces
from emoplay.pipeline._classify import EmotionClassifier
from emoplay.evaluation._datasets import FER2013_CLASSES, LabeledImages
from emoplay._errors import DataError
from emoplay.evaluation._evaluate import (
    NO_FACE,
    PERTURBATIONS,
    accuracy,
    confusion_matrix,
    evaluate,
    expected_calibration_error,
    macro_f1,
    perturb,
    precision_recall_f1,
)


@pytest.fixture(scope="module")
def classifier():
    with EmotionClassifier() as clf:
        yield clf


@pytest.fixture(scope="module")
def data():
    images, labels = few_faces(3)
    return LabeledImages(images, labels, FER2013_CLASSES, "fixture")


# --- metrics ---------------------------------------------------------------------------------------

Y_TRUE = np.array([0, 0, 0, 1, 1, 2, 2, 2])
Y_PRED = np.array([0, 0, 1, 1, NO_FACE, 2, 0, 2])


def test_confusion_matrix_counts_true_by_predicted_and_skips_no_face():
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    np.testing.assert_array_equal(cm, [[2, 1, 0],
                                       [0, 1, 0],
                                       [1, 0, 2]])
    assert cm.sum() == len(Y_TRUE) - 1  # the no-face item is not in the matrix


def test_confusion_matrix_sums_to_n_without_misses():
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.integers(0, 7, 500), rng.integers(0, 7, 500)
    cm = confusion_matrix(y_true, y_pred, 7)
    assert cm.sum() == 500
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y_true, minlength=7))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(y_pred, minlength=7))


def test_accuracy_counts_no_face_as_a_miss():
    assert accuracy(Y_TRUE, Y_PRED) == pytest.approx(5 / 8)
    with pytest.raises(ValueError):
        accuracy([], [])


def test_precision_recall_f1_by_hand():
    precision, recall, f1, support = precision_recall_f1(Y_TRUE, Y_PRED, 3)
    # class 0: tp 2, predicted 3, support 3; class 1: tp 1, predicted 2, support 2 (one no face);
    # class 2: tp 2, predicted 2, support 3.
    np.testing.assert_allclose(precision, [2 / 3, 1 / 2, 1])
    np.testing.assert_allclose(recall, [2 / 3, 1 / 2, 2 / 3])
    np.testing.assert_allclose(f1, [2 / 3, 1 / 2, 0.8])
    np.testing.assert_array_equal(support, [3, 2, 3])
    assert macro_f1(Y_TRUE, Y_PRED, 3) == pytest.approx((2 / 3 + 1 / 2 + 0.8) / 3)


def test_macro_f1_is_one_when_perfectly_separated_and_skips_absent_classes():
    y = np.array([0, 1, 1, 3, 3, 3])
    assert macro_f1(y, y, 7) == 1.0  # classes 2, 4, 5, 6 occur nowhere and are not averaged
    # a class that is predicted but never true counts, with F1 0
    assert macro_f1(np.array([0, 0]), np.array([0, 1]), 3) == pytest.approx((2 / 3 + 0) / 2)


def test_a_never_predicted_class_has_precision_zero_not_nan():
    precision, _, f1, _ = precision_recall_f1(np.array([0, 1]), np.array([0, 0]), 2)
    assert precision.tolist() == [0.5, 0.0] and f1[1] == 0.0


def test_metrics_reject_bad_labels():
    with pytest.raises(ValueError, match="0..2"):
        confusion_matrix([0, 3], [0, 1], 3)
    with pytest.raises(ValueError, match="equal length"):
        macro_f1([0, 1], [0], 3)


def test_ece_of_a_calibrated_model_is_zero():
    # 10 items at confidence 0.8, 8 of them right; 5 at confidence 0.4, 2 right.
    probs = np.array([[0.8, 0.2, 0.0]] * 10 + [[0.4, 0.3, 0.3]] * 5)
    labels = np.array([0] * 8 + [1] * 2 + [0] * 2 + [2] * 3)
    assert expected_calibration_error(probs, labels) == pytest.approx(0.0, abs=1e-12)


def test_ece_by_hand():
    # bin of 0.9: 4 items, 2 right -> |0.5 - 0.9| = 0.4; bin of 0.6: 2 items, 2 right -> 0.4.
    probs = np.array([[0.9, 0.1]] * 4 + [[0.6, 0.4]] * 2)
    labels = np.array([0, 0, 1, 1, 0, 0])
    assert expected_calibration_error(probs, labels) == pytest.approx((4 * 0.4 + 2 * 0.4) / 6)
    # one overconfident bin: always sure, right half the time
    assert expected_calibration_error(np.array([[1.0, 0.0]] * 4), np.array([0, 1, 0, 1])) == pytest.approx(0.5)


def test_ece_bins_are_right_closed():
    # 0.6 sits in (8/15, 9/15], 0.6000001 in (9/15, 10/15]: two bins, each fully wrong vs fully right
    probs = np.array([[0.6, 0.4], [0.6000001, 0.3999999]])
    one_bin = expected_calibration_error(probs, np.array([0, 1]), n_bins=1)
    fifteen = expected_calibration_error(probs, np.array([0, 1]), n_bins=15)
    assert one_bin == pytest.approx(abs(0.5 - 0.60000005))
    assert fifteen == pytest.approx((0.4 + 0.6000001) / 2)


# --- perturbations ---------------------------------------------------------------------------------

def test_perturbations_are_deterministic_and_keep_shape(data):
    images = list(data.images[:4]) + [np.full((60, 80, 3), 100, np.uint8)]
    for name in PERTURBATIONS:
        a, b = perturb(images, name), perturb(images, name)
        for x, y, original in zip(a, b, images):
            np.testing.assert_array_equal(x, y, err_msg=name)
            assert x.shape == original.shape and x.dtype == np.uint8, name
        assert any(not np.array_equal(x, o) for x, o in zip(a, images[:4])), f"{name} changed nothing"
    assert not np.array_equal(perturb(images, "noise_sigma10", seed=1)[0], perturb(images, "noise_sigma10")[0])


def test_perturbations_do_what_they_say():
    flat = np.full((48, 48), 100, np.uint8)
    assert (perturb([flat], "brightness_plus40")[0] == 140).all()
    assert (perturb([flat], "brightness_minus40")[0] == 60).all()
    assert (perturb([np.full((4, 4), 200, np.uint8)], "brightness_plus40")[0] == 255).all()  # clipped
    ramp = np.tile(np.arange(0, 240, 5, dtype=np.uint8), (48, 1))
    low = perturb([ramp], "low_contrast")[0].astype(float)
    assert low.std() == pytest.approx(ramp.std() / 2, rel=0.02) and low.mean() == pytest.approx(ramp.mean(), abs=1)
    noisy = perturb([flat], "noise_sigma10")[0].astype(float)
    assert noisy.std() == pytest.approx(10, rel=0.1)
    assert (perturb([flat], "blur_5x5")[0] == 100).all()
    assert (perturb([flat], "rotate_plus15")[0] == 100).all()  # edges replicated, nothing black
    rotated = perturb([ramp], "rotate_plus15")[0]
    assert not np.array_equal(rotated, ramp) and not np.array_equal(rotated, perturb([ramp], "rotate_minus15")[0])
    occluded = perturb([np.zeros((48, 48), np.uint8)], "occlusion_mouth")[0]
    assert (occluded == 128).sum() == 16 * 16
    assert (occluded[28:44, 16:32] == 128).all()
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb([flat], "sepia")


# --- evaluate() with the real model -------------------------------------------------------------

def test_evaluate_crop_matches_an_independent_computation(data, classifier):
    report = evaluate(data, classifier)

    probs = classifier.classify_crops(data.images)
    predicted = probs.argmax(axis=1)
    assert report.n == len(data) == sum(report.support)
    assert report.no_face == 0
    assert report.accuracy == pytest.approx(np.mean(predicted == data.labels))
    assert report.macro_f1 == pytest.approx(macro_f1(data.labels, predicted, 7))
    assert report.ece == pytest.approx(expected_calibration_error(probs, data.labels), abs=1e-6)
    np.testing.assert_array_equal(report.confusion, confusion_matrix(data.labels, predicted, 7))
    assert sum(map(sum, report.confusion)) == report.n
    assert report.ms_per_face > 0
    assert report.model_version == classifier.info.version and report.model_path == classifier.info.path
    assert report.class_names == classifier.class_names
    assert report.robustness == ()


def test_evaluate_maps_labels_by_class_name(data, classifier):
    order = [6, 5, 4, 3, 2, 1, 0]
    renamed = LabeledImages(data.images, np.array([order.index(label) for label in data.labels]),
                            tuple(FER2013_CLASSES[i] for i in order), "reordered")
    assert evaluate(renamed, classifier).confusion == evaluate(data, classifier).confusion


def test_evaluate_rejects_classes_the_model_lacks(data, classifier):
    strange = LabeledImages(data.images[:2], np.array([0, 0]), ("contempt",), "odd")
    with pytest.raises(DataError, match="contempt"):
        evaluate(strange, classifier)


def test_evaluate_resizes_other_crops_to_the_model_input(data, classifier):
    import cv2

    big = [cv2.cvtColor(cv2.resize(im, (96, 96), interpolation=cv2.INTER_LINEAR), cv2.COLOR_GRAY2BGR)
           for im in data.images]
    report = evaluate(LabeledImages(big, data.labels, FER2013_CLASSES, "big"), classifier)
    back = np.stack([cv2.resize(cv2.cvtColor(im, cv2.COLOR_BGR2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
                     for im in big])
    expected = classifier.classify_crops(back).argmax(axis=1)
    assert report.accuracy == pytest.approx(np.mean(expected == data.labels))


@pytest.mark.slow
def test_robustness_reports_every_perturbation_deterministically(data, classifier):
    first = evaluate(data, classifier, robustness=True)
    second = evaluate(data, classifier, robustness=True)
    assert [name for name, _ in first.robustness] == ["clean", *PERTURBATIONS]
    assert first.robustness == second.robustness
    assert dict(first.robustness)["clean"] == first.accuracy
    for name, value in first.robustness[1:]:
        expected = classifier.classify_crops(np.stack(perturb(data.images, name))).argmax(axis=1)
        assert value == pytest.approx(np.mean(expected == data.labels)), name


@pytest.mark.slow
def test_report_as_dict_and_text(data, classifier):
    report = evaluate(data, classifier, robustness=True)
    as_dict = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    for key in ("accuracy", "n", "no_face", "macro_f1", "per_class", "confusion", "ece", "ms_per_face", "model",
                "robustness"):
        assert key in as_dict
    assert as_dict["per_class"]["happy"]["support"] == report.support[3]
    assert set(as_dict["robustness"]) == {"clean", *PERTURBATIONS}
    text = report.to_text()
    for needle in ("accuracy", "macro-F1", "ECE (15 bins)", "ms per face", "confusion", "occlusion_mouth",
                   f"{report.accuracy:.4f}"):
        assert needle in text
    assert "no face" not in text  # crop mode has no detector


def test_evaluate_checks_its_arguments(data, classifier):
    with pytest.raises(ValueError, match="crop"):
        evaluate(data, classifier, faces="faces")
    with pytest.raises(ValueError, match="FaceDetector"):
        evaluate(data, classifier, faces="detect")


# --- faces="detect" ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def detector():
    from emoplay.detection import DetectorOptions, FaceDetector

    with FaceDetector(DetectorOptions(video_mode=False)) as det:
        yield det


@pytest.fixture(scope="module")
def frames_with_and_without_faces(fer_val, classifier):
    """Four unmistakable FER faces (happy, surprise, neutral, angry) upscaled into frames, and two faceless frames.

    Unmistakable: the model gives the labelled class more than 0.9 on the 48x48 crop itself, so the
    right answer through detection is the label, known without running the detect path.
    """
    images, labels, _ = fer_val
    picks = []
    for c in (3, 5, 6, 0):  # happy, surprise, neutral, angry
        candidates = np.flatnonzero(labels == c)[:60]
        probs = classifier.classify_crops(images[candidates])
        picks.append(next(i for i, p in zip(candidates, probs) if p.argmax() == c and p.max() > 0.9))
    frames = [face_frame(images[i]) for i in picks] + [np.full((480, 480, 3), 128, np.uint8),
                                                       np.zeros((200, 300), np.uint8)]
    return frames, np.array([labels[i] for i in picks] + [3, 6])


@pytest.mark.slow
def test_detect_counts_images_without_a_face_as_misses(frames_with_and_without_faces, classifier, detector):
    frames, labels = frames_with_and_without_faces
    report = evaluate(LabeledImages(frames, labels, FER2013_CLASSES, "frames"), classifier, "detect", detector)

    assert report.no_face == 2
    assert report.no_face_per_class[3] == 1 and report.no_face_per_class[6] == 1
    assert report.n == 6 and sum(map(sum, report.confusion)) == 4
    # Each unmistakable face is found and named right; the two faceless frames are the only misses.
    for c in (3, 5, 6, 0):
        assert report.confusion[c][c] == 1, (FER2013_CLASSES[c], report.confusion[c])
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.accuracy_on_faces == pytest.approx(1.0)
    assert report.recall[3] == pytest.approx(0.5) and report.recall[6] == pytest.approx(0.5)
    text = report.to_text()
    assert "no face detected in 2 of 6 images" in text


def test_detect_with_no_face_anywhere(classifier, detector):
    blank = [np.full((120, 160), 30, np.uint8)] * 3
    report = evaluate(LabeledImages(blank, np.array([0, 1, 2]), FER2013_CLASSES, "blank"), classifier, "detect",
                      detector)
    assert report.no_face == 3 and report.accuracy == 0.0 and report.macro_f1 == 0.0
    assert report.ece is None and report.ms_per_face is None and report.accuracy_on_faces is None
    json.dumps(report.to_dict(), allow_nan=False)
    assert "ECE (15 bins) -" in report.to_text()
