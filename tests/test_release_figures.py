"""The model card's figure tools: full frames built from an image folder, and the summary of an eval report."""

from __future__ import annotations

import shutil
import sys

import cv2
import numpy as np

from conftest import REPO, SHARED, require_shared

sys.path.insert(0, str(REPO / "models"))


def test_full_frames_from_an_image_folder_keep_the_file_names(tmp_path):
    import make_fullframe_set

    ck = require_shared(SHARED / "data" / "ckplus")
    source = tmp_path / "src"
    picked = [sorted((ck / name).glob("*.png"))[0] for name in ("happy", "neutral")]
    for path in picked:
        (source / path.parent.name).mkdir(parents=True)
        shutil.copy(path, source / path.parent.name / path.name)
    out = tmp_path / "frames"
    assert make_fullframe_set.build(source, out, side=240, context=120, limit=0) == 2
    for path in picked:
        frame = cv2.imread(str(out / path.parent.name / path.name), cv2.IMREAD_GRAYSCALE)
        assert frame.shape == (480, 480)
        face = cv2.resize(frame[120:360, 120:360], (48, 48), interpolation=cv2.INTER_AREA)
        original = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        assert np.abs(face.astype(int) - original).mean() < 6  # the face itself, upscaled, in the middle


def test_summary_separates_expressive_faces_from_neutral_ones():
    import release_figures

    names = ["angry", "happy", "neutral"]
    confusion = [[1, 0, 3], [0, 4, 0], [0, 0, 12]]  # angry mostly called neutral
    report = {"class_names": names, "confusion": confusion, "accuracy": 17 / 20, "n": 20, "no_face": 0,
              "macro_f1": 0.7, "ece": 0.1, "calibrated": False,
              "per_class": {n: {"recall": r} for n, r in zip(names, (0.25, 1.0, 1.0))}}
    summary = release_figures.summarise(report)
    assert summary["expressive_accuracy"] == 5 / 8
    assert summary["balanced_accuracy"] == (0.25 + 1 + 1) / 3
    assert summary["recall"] == {"angry": 0.25, "happy": 1.0, "neutral": 1.0}
