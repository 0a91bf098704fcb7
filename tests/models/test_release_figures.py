"""The model card's figure tools: full frames built from an image folder, and the summary of an eval report."""

from __future__ import annotations

import shutil

import cv2
import numpy as np

from tests.support import SHARED, require_shared


def test_full_frames_from_an_image_folder_keep_the_file_names(tmp_path):
    from models import make_fullframe_set

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
    from models import release_figures

    names = ["angry", "happy", "neutral"]
    confusion = [[1, 0, 3], [0, 4, 0], [0, 0, 12]]  # angry mostly called neutral
    report = {"class_names": names, "confusion": confusion, "accuracy": 17 / 20, "n": 20, "no_face": 0,
              "macro_f1": 0.7, "ece": 0.1, "calibrated": False,
              "per_class": {n: {"recall": r} for n, r in zip(names, (0.25, 1.0, 1.0))}}
    summary = release_figures.summarise(report)
    assert summary["expressive_accuracy"] == 5 / 8
    assert summary["expressive_called_neutral"] == 3 / 8
    assert summary["balanced_accuracy"] == (0.25 + 1 + 1) / 3
    assert summary["recall"] == {"angry": 0.25, "happy": 1.0, "neutral": 1.0}


def test_subtle_set_blends_each_peak_with_its_own_sequence_first_frame(tmp_path):
    from models import make_subtle_set

    ck = require_shared(SHARED / "data" / "ckplus")
    source = tmp_path / "ck"
    peaks = sorted((ck / "happy").glob("*.png"))[:2] + sorted((ck / "sad").glob("*.png"))[:1]
    relaxed = {}
    for peak in peaks:
        subject, sequence, _ = peak.stem.split("_")
        first = sorted((ck / "neutral").glob(f"{subject}_{sequence}_*.png"))[0]
        relaxed[peak.name] = first
        for path in (peak, first):
            (source / path.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, source / path.parent.name / path.name)
    orphan = sorted((ck / "angry").glob("*.png"))[0]  # its sequence's first frame is not copied
    (source / "angry").mkdir()
    shutil.copy(orphan, source / "angry" / orphan.name)
    orphan_sequence = tuple(orphan.stem.split("_")[:2])
    other = sorted(p for p in (ck / "neutral").glob("*.png")
                   if p not in relaxed.values() and tuple(p.stem.split("_")[:2]) != orphan_sequence)[0]
    shutil.copy(other, source / "neutral" / other.name)  # a relaxed face of another sequence: copied, not used

    counts = make_subtle_set.build(source, tmp_path / "subtle", weight=0.25)
    assert counts == {"left_out": 1, "neutral": len(set(relaxed.values())) + 1, "happy": 2, "sad": 1}
    for peak in peaks:
        made = cv2.imread(str(tmp_path / "subtle" / peak.parent.name / peak.name), cv2.IMREAD_GRAYSCALE)
        first = cv2.imread(str(relaxed[peak.name]), cv2.IMREAD_GRAYSCALE).astype(float)
        expected = np.rint(0.75 * first + 0.25 * cv2.imread(str(peak), cv2.IMREAD_GRAYSCALE))
        assert np.abs(made - expected).max() <= 1
        assert np.abs(made.astype(float) - first).mean() > 0  # not the relaxed face itself
    assert not (tmp_path / "subtle" / "angry").exists()
    for path in (source / "neutral").iterdir():  # copied unchanged, for per-subject calibration
        assert (tmp_path / "subtle" / "neutral" / path.name).read_bytes() == path.read_bytes()


def test_subtle_set_refuses_to_write_into_the_data_folder(tmp_path):
    from models import make_subtle_set
    import pytest

    (tmp_path / "ck" / "neutral").mkdir(parents=True)
    with pytest.raises(SystemExit, match="inside --data"):
        make_subtle_set.build(tmp_path / "ck", tmp_path / "ck" / "subtle", weight=0.5)
