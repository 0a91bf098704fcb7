"""`emoplay eval`, run in-process through a throwaway parser built with register()."""

from __future__ import annotations

import argparse
import csv
import json

import numpy as np
import pytest

from tests.support import face_frame, few_faces
from emoplay.cli.eval import register
from emoplay.pipeline._classify import EmotionClassifier
from emoplay.evaluation._datasets import FER2013_CLASSES
from emoplay.evaluation._evaluate import PERTURBATIONS

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def emoplay(*argv) -> int:
    parser = argparse.ArgumentParser(prog="emoplay")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


@pytest.fixture(scope="module")
def faces():
    return few_faces()


@pytest.fixture
def npz(tmp_path, faces):
    images, labels = faces
    path = tmp_path / "tiny.npz"
    np.savez(path, images=images, labels=labels, classes=np.array(FER2013_CLASSES))
    return path


def expected_accuracy(images, labels) -> float:
    with EmotionClassifier() as clf:
        return float(np.mean(clf.classify_crops(images).argmax(axis=1) == labels))


def test_json_report(npz, faces, capsys):
    assert emoplay("eval", "--data", npz, "--json") == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1  # one JSON object on one line
    report = json.loads(out)
    images, labels = faces
    assert report["n"] == len(labels) and report["no_face"] == 0 and report["faces"] == "crop"
    assert report["accuracy"] == pytest.approx(expected_accuracy(images, labels))
    assert sum(map(sum, report["confusion"])) == len(labels)
    assert set(report["per_class"]) == set(FER2013_CLASSES)
    assert {"precision", "recall", "f1", "support"} <= set(report["per_class"]["sad"])
    assert 0.0 <= report["ece"] <= 1.0 and report["ms_per_face"] > 0 and 0 <= report["macro_f1"] <= 1
    assert report["model"]["version"] and report["model"]["path"].endswith(".onnx")
    assert report["robustness"] is None


@pytest.mark.slow
def test_text_report_and_plot(npz, tmp_path, capsys):
    import cv2

    plot = tmp_path / "confusion.png"
    assert emoplay("eval", "--data", npz, "--plot", plot) == 0
    out = capsys.readouterr().out
    for needle in ("accuracy", "macro-F1", "ECE (15 bins)", "ms per face", "precision", "confusion", str(plot)):
        assert needle in out
    assert plot.read_bytes().startswith(PNG_MAGIC)
    image = cv2.imread(str(plot))
    assert image is not None and image.shape[0] > 300 and image.shape[1] > 300
    assert image.std() > 10  # a drawn figure, not a blank canvas


def test_csv_usage_and_limit(tmp_path, faces, capsys):
    images, labels = faces
    path = tmp_path / "fer2013.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["emotion", "pixels", "Usage"])
        for i, (image, label) in enumerate(zip(images, labels)):
            writer.writerow([int(label), " ".join(map(str, image.ravel())), "PrivateTest" if i % 2 else "PublicTest"])
    assert emoplay("eval", "--data", path, "--usage", "PrivateTest", "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == len(labels) // 2 and "Usage PrivateTest" in report["source"]
    assert report["accuracy"] == pytest.approx(expected_accuracy(images[1::2], labels[1::2]))
    assert emoplay("eval", "--data", path, "--limit", 3, "--json") == 0
    assert json.loads(capsys.readouterr().out)["n"] == 3


@pytest.mark.slow
def test_robustness_flip_average_and_threads(npz, capsys):
    assert emoplay("eval", "--data", npz, "--robustness", "--flip-average", "--threads", 2, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["robustness"]) == {"clean", *PERTURBATIONS}
    assert report["robustness"]["clean"] == report["accuracy"]
    assert report["model"]["flip_average"] is True and report["model"]["threads"] == 2
    assert emoplay("eval", "--data", npz, "--robustness") == 0
    out = capsys.readouterr().out
    assert "robustness" in out and "occlusion_mouth" in out and "rotate_minus15" in out


@pytest.mark.slow
def test_faces_detect_on_a_folder_of_frames(tmp_path, fer_val, capsys):
    import cv2

    images, labels, classes = fer_val
    data = tmp_path / "frames"
    for name in ("happy", "surprise"):
        (data / name).mkdir(parents=True)
        index = np.flatnonzero(labels == classes.index(name))[:2]
        for i in index:
            cv2.imwrite(str(data / name / f"{i}.png"), face_frame(images[i]))
    cv2.imwrite(str(data / "happy" / "blank.jpg"), np.full((360, 480, 3), 200, np.uint8))
    plot = tmp_path / "cm.png"

    assert emoplay("eval", "--data", data, "--faces", "detect", "--json", "--plot", plot) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["faces"] == "detect" and report["n"] == 5
    assert report["no_face"] == 1 and report["per_class"]["happy"]["no_face"] == 1
    assert sum(map(sum, report["confusion"])) == 4
    assert report["accuracy"] <= 4 / 5
    assert plot.read_bytes().startswith(PNG_MAGIC)
    assert emoplay("eval", "--data", data, "--faces", "detect") == 0
    assert "no face detected in 1 of 5 images" in capsys.readouterr().out


def test_bad_inputs_exit_2_with_one_line(tmp_path, npz, capsys):
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "bad.csv").write_text("emotion,pixels,Usage\n0,1 2 3,PublicTest\n")
    (tmp_path / "classes" / "bored").mkdir(parents=True)
    (tmp_path / "cut.npz").write_bytes(npz.read_bytes()[:500])  # a download cut short
    cases = [
        (["--data", tmp_path / "cut.npz"], "not a readable .npz"),
        (["--data", tmp_path / "missing.npz"], "does not exist"),
        (["--data", tmp_path / "notes.txt"], "unknown data layout"),
        (["--data", tmp_path / "bad.csv"], "line 2: 3 pixels"),
        (["--data", tmp_path / "classes"], "unknown class folder"),
        (["--data", npz, "--plot", tmp_path / "no" / "such" / "dir" / "cm.png"], "does not exist"),
        (["--data", npz, "--model", tmp_path / "missing.onnx"], "does not exist"),
    ]
    for argv, message in cases:
        assert emoplay("eval", *argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == ""
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("emoplay eval: ") and message in lines[0], captured.err


@pytest.mark.parametrize("argv", [["--limit", "0"], ["--threads", "zero"], ["--usage", "Test"], ["--faces", "x"]])
def test_invalid_options_are_usage_errors(npz, argv, capsys):
    with pytest.raises(SystemExit) as exc:
        emoplay("eval", "--data", npz, *argv)
    assert exc.value.code == 2
    assert "usage:" in capsys.readouterr().err


@pytest.mark.slow
def test_ferplus_labels_score_against_the_crowd(tmp_path, capsys):
    """--labels ferplus: the crowd's majority, worked out here from the CSV by hand, is what is scored."""
    from tests.support import FER, require_shared

    votes_csv = require_shared(FER / "ferplus_votes.csv")
    with np.load(require_shared(FER / "val_original.npz")) as d:
        images, ids = d["images"][:120], [str(i) for i in d["ids"][:120]]
    data = tmp_path / "val120.npz"
    np.savez(data, images=images, labels=np.zeros(len(ids), np.int64), ids=np.array(ids),
             classes=np.array(FER2013_CLASSES))
    columns = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
               "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": None, "unknown": None, "NF": None}
    with open(votes_csv, newline="") as f:
        rows = {r["id"]: r for r in csv.DictReader(f) if r["id"] in set(ids)}
    keep, majority, shares = [], [], []
    for i, name in enumerate(ids):
        counts = {c: int(rows[name][c]) for c in columns} if name in rows else {}
        top = max(counts.values(), default=0)
        winners = [c for c, v in counts.items() if v == top]
        if top and len(winners) == 1 and columns[winners[0]]:
            keep.append(i)
            majority.append(FER2013_CLASSES.index(columns[winners[0]]))
            seven = np.array([counts[c] for c in ("anger", "disgust", "fear", "happiness", "sadness", "surprise",
                                                  "neutral")], float)
            shares.append(seven / seven.sum())
    with EmotionClassifier() as clf:
        probs = clf.classify_crops(images[keep])
    assert emoplay("eval", "--data", data, "--labels", "ferplus", "--votes", votes_csv, "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["labels"] == "ferplus" and report["n"] == len(keep) < 120
    assert report["accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == np.array(majority))))
    shares = np.array(shares)
    assert report["crowd_agreement"] == pytest.approx(float(shares[np.arange(len(keep)), probs.argmax(1)].mean()))
    assert report["soft_cross_entropy"] == pytest.approx(
        float(-(shares * np.log(np.clip(probs, 1e-7, 1))).sum(1).mean()), rel=1e-5)
    # FER2013-style data without ids cannot be paired, and --votes alone is a usage mistake
    assert emoplay("eval", "--data", tmp_path / "val120.npz", "--votes", votes_csv) == 2
    np.savez(tmp_path / "noids.npz", images=images, labels=np.zeros(120, np.int64), classes=np.array(FER2013_CLASSES))
    assert emoplay("eval", "--data", tmp_path / "noids.npz", "--labels", "ferplus", "--votes", votes_csv) == 2
    assert "ids" in capsys.readouterr().err
