"""`emoplay eval --calibration per-subject`: leave-one-out per subject, through the runtime's Baseline."""

from __future__ import annotations

import argparse
import json
import shutil

import numpy as np
import pytest

from tests.support import SHARED, require_shared
from emoplay.cli.eval import register
from emoplay.evaluation._datasets import read_image_folder
from emoplay.pipeline._classify import EmotionClassifier
from emoplay.calibration import AutoCalibrationOptions, Baseline
from emoplay.evaluation.per_subject import calibrate_per_subject, subjects_of

CKPLUS = SHARED / "data" / "ckplus"
PATTERN = r"^(S\d+)_"
CLASSES = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
NEUTRAL = CLASSES.index("neutral")


def emoplay(*argv) -> int:
    parser = argparse.ArgumentParser(prog="emoplay")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def test_each_image_is_calibrated_on_its_subjects_other_neutral_images_only():
    probs = np.array([
        [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4],  # 0 A neutral
        [0.05, 0.05, 0.05, 0.05, 0.3, 0.05, 0.45],  # 1 A neutral
        [0.1, 0.1, 0.1, 0.4, 0.1, 0.1, 0.1],  # 2 A happy
        [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.4],  # 3 B neutral: B's only neutral image
        [0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2],  # 4 B angry
        [0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2],  # 5 no subject
    ], np.float32)
    labels = np.array([NEUTRAL, NEUTRAL, 3, NEUTRAL, 0, 0])
    subjects = ["A", "A", "A", "B", "B", None]
    result = calibrate_per_subject(probs, labels, np.ones(6, bool), subjects, CLASSES, strength=1.0)
    assert result.calibrated.tolist() == [True, True, True, False, True, False]
    assert result.subjects == 2 and result.unmatched == 1
    one = lambda i: Baseline.from_probabilities(probs[[i]], CLASSES, strength=1.0)  # noqa: E731
    np.testing.assert_allclose(result.probabilities[0], one(1).apply(probs[0]), rtol=1e-6)  # the other one
    np.testing.assert_allclose(result.probabilities[1], one(0).apply(probs[1]), rtol=1e-6)
    both = Baseline.from_probabilities(probs[[0, 1]], CLASSES, strength=1.0)
    np.testing.assert_allclose(result.probabilities[2], both.apply(probs[2]), rtol=1e-6)
    np.testing.assert_allclose(result.probabilities[4], one(3).apply(probs[4]), rtol=1e-6)
    np.testing.assert_array_equal(result.probabilities[[3, 5]], probs[[3, 5]])  # left as they were
    auto = calibrate_per_subject(probs, labels, np.ones(6, bool), subjects, CLASSES, method="per-subject-auto")
    assert auto.calibrated.tolist() == [True, True, True, False, True, False]  # the model calls 0, 1, 3 neutral


def test_subjects_come_from_the_first_group_in_the_file_name():
    assert subjects_of(["neutral/S005_001_00000001.png", "happy/S010_006_00000015.png", "x.png"], PATTERN) == \
        ["S005", "S010", None]


@pytest.fixture(scope="module")
def leak_sensitive_folder(tmp_path_factory):
    """A tiny CK+ folder in which calibrating a neutral image on itself would change the accuracy.

    Chosen with the shipped model: a subject whose neutral image is classified differently (right vs
    wrong) when its own probabilities are in its baseline, plus one subject with a single neutral image.
    """
    data = read_image_folder(require_shared(CKPLUS))
    subjects = np.array(subjects_of(data.names, PATTERN))
    images = np.stack(data.images)
    with EmotionClassifier() as classifier:
        for subject in np.unique(subjects):  # subject by subject, until one is leak-sensitive
            members = np.flatnonzero(subjects == subject)
            neutrals = members[data.labels[members] == NEUTRAL]
            if len(neutrals) < 2:
                continue
            probs = dict(zip(neutrals, classifier.classify_crops(images[neutrals])))
            for i in neutrals:
                others = np.stack([probs[j] for j in neutrals if j != i])
                honest = Baseline.from_probabilities(others, CLASSES).apply(probs[i]).argmax() == NEUTRAL
                leaked = Baseline.from_probabilities(np.stack(list(probs.values())), CLASSES).apply(
                    probs[i]).argmax() == NEUTRAL
                if honest == leaked:
                    continue
                lonely = next(s for s in np.unique(subjects) if (data.labels[subjects == s] == NEUTRAL).sum() == 1)
                folder = tmp_path_factory.mktemp("ck_tiny")
                keep = [j for j in range(len(subjects)) if subjects[j] in (subject, lonely)]
                for j in keep:
                    target = folder / data.names[j]
                    target.parent.mkdir(exist_ok=True)
                    shutil.copy(CKPLUS / data.names[j], target)
                kept_probs = classifier.classify_crops(images[keep])
                return folder, data.labels[keep], kept_probs, list(subjects[keep]), \
                    {"honest": honest, "leaked": leaked, "image": data.names[i]}
    pytest.fail("no CK+ subject is leak-sensitive with this model: build the tiny folder another way")


def test_cli_never_calibrates_an_image_on_itself(leak_sensitive_folder, capsys):
    folder, labels, probs, subjects, case = leak_sensitive_folder
    assert emoplay("eval", "--data", folder, "--faces", "crop", "--calibration", "per-subject",
                   "--subject-pattern", PATTERN, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["calibrated"] is True and report["subjects"] == 2 and report["n"] == len(labels)
    assert report["no_face"] == 0 and report["calibration"]["uncalibrated"] == 1  # the lonely neutral image
    with EmotionClassifier() as clf:  # the CLI calibrates at the shipped model's own strength
        strength = clf.info.calibration_strength
    honest = calibrate_per_subject(probs, labels, np.ones(len(labels), bool), subjects, CLASSES,
                                   model_strength=strength).probabilities
    expected = float(np.mean(honest.argmax(axis=1) == labels))
    assert report["accuracy"] == pytest.approx(expected)
    # Had the image been in its own baseline, one more or one fewer image would be right:
    assert case["honest"] != case["leaked"]
    assert report["accuracy"] * len(labels) == pytest.approx(expected * len(labels))
    assert report["calibration"]["accuracy_uncalibrated"] == pytest.approx(float(np.mean(probs.argmax(1) == labels)))


def test_cli_text_report_shows_both(leak_sensitive_folder, capsys):
    folder = leak_sensitive_folder[0]
    assert emoplay("eval", "--data", folder, "--calibration", "per-subject", "--subject-pattern", PATTERN) == 0
    out = capsys.readouterr().out
    assert "calibration per-subject" in out and "not calibrated: 1 images" in out and "accuracy uncalibrated" in out


def test_the_text_report_counts_faces_without_a_subject_inside_the_uncalibrated_ones(leak_sensitive_folder,
                                                                                      tmp_path, capsys):
    folder = tmp_path / "ck"
    shutil.copytree(leak_sensitive_folder[0], folder)
    one = next(p for p in sorted(folder.rglob("*.png")))
    one.rename(one.with_name("nosubject_" + one.name.split("_", 1)[1]))  # a name the pattern does not match
    assert emoplay("eval", "--data", folder, "--calibration", "per-subject", "--subject-pattern", PATTERN,
                   "--json") == 0
    report = json.loads(capsys.readouterr().out)["calibration"]
    assert report["unmatched"] == 1 and report["uncalibrated"] >= 2  # the lonely neutral image and this one
    assert emoplay("eval", "--data", folder, "--calibration", "per-subject", "--subject-pattern", PATTERN) == 0
    out = capsys.readouterr().out
    assert f"not calibrated: {report['uncalibrated']} images with a face" in out
    assert "or they have none: 1 file names match no subject" in out


@pytest.mark.parametrize("argv, message", [
    (["--calibration", "per-subject"], "needs --subject-pattern"),
    (["--subject-pattern", PATTERN], "only used with --calibration"),
    (["--calibration", "per-subject", "--subject-pattern", PATTERN, "--robustness"], "cannot be combined"),
    (["--calibration", "per-subject", "--subject-pattern", r"^S\d+_"], "has no group"),
    (["--calibration", "per-subject", "--subject-pattern", r"^(S\d+"], "not a valid regular expression"),
    (["--calibration", "per-subject", "--subject-pattern", r"^(X\d+)_"], "finds a subject in none"),
])
def test_cli_errors_say_what_to_do(leak_sensitive_folder, argv, message, capsys):
    assert emoplay("eval", "--data", leak_sensitive_folder[0], *argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_detect_mode_calibrates_the_detected_faces(leak_sensitive_folder, tmp_path, capsys):
    import cv2

    from tests.support import face_frame

    folder = leak_sensitive_folder[0]
    frames = tmp_path / "frames"
    for image in folder.glob("*/*.png"):  # each crop as a full frame: upscaled, with context around it
        (frames / image.parent.name).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(frames / image.parent.name / image.name),
                    face_frame(cv2.imread(str(image), cv2.IMREAD_GRAYSCALE)))
    assert emoplay("eval", "--data", frames, "--faces", "detect", "--json") == 0
    plain = json.loads(capsys.readouterr().out)
    assert emoplay("eval", "--data", frames, "--faces", "detect", "--calibration", "per-subject",
                   "--subject-pattern", PATTERN, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert plain["calibrated"] is False and report["calibrated"] is True and report["faces"] == "detect"
    assert report["n"] == plain["n"] and report["no_face"] == plain["no_face"] < report["n"]
    assert report["calibration"]["accuracy_uncalibrated"] == pytest.approx(plain["accuracy"])
    assert report["calibration"]["uncalibrated"] >= 1 and report["subjects"] == 2


@pytest.mark.parametrize("method, runtime_default", [
    ("per-subject", None), ("per-subject-auto", AutoCalibrationOptions().strength)])
def test_cli_calibrates_at_the_runtime_strength_unless_told(leak_sensitive_folder, method, runtime_default, capsys):
    """per-subject: the shipped model's own default strength (its metadata), as CalibrationOptions() gets."""
    if runtime_default is None:
        with EmotionClassifier() as clf:
            runtime_default = clf.info.calibration_strength
    folder = leak_sensitive_folder[0]
    assert emoplay("eval", "--data", folder, "--calibration", method, "--subject-pattern", PATTERN, "--json") == 0
    assert json.loads(capsys.readouterr().out)["calibration"]["strength"] == runtime_default
    assert emoplay("eval", "--data", folder, "--calibration", method, "--subject-pattern", PATTERN, "--json",
                   "--calibration-strength", "0.3") == 0
    assert json.loads(capsys.readouterr().out)["calibration"]["strength"] == 0.3
