"""The package as a user gets it: light import, one public API, shipped models with checksums and metadata."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile

import numpy as np
import pytest

import emoplay
from emoplay._model_files import models_dir, shipped_model
from tests.support import REPO, require_module


def test_import_loads_no_heavy_library():
    code = ("import sys, emoplay; heavy = [m for m in ('cv2', 'mediapipe', 'onnxruntime', 'pygame', 'torch') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_all_public_names_exist_and_are_exported():
    for name in emoplay.__all__:
        assert hasattr(emoplay, name), name
    import types

    public = {n for n, v in vars(emoplay).items() if not n.startswith("_") and not isinstance(v, types.ModuleType)}
    public -= {"annotations", "import_module", "Any"}  # names of the module's own imports
    assert public <= set(emoplay.__all__)


def test_every_error_derives_from_one_base():
    errors = [getattr(emoplay, n) for n in emoplay.__all__ if n.endswith("Error")]
    assert errors
    for err in errors:
        assert issubclass(err, emoplay.EmoplayError), err


def test_shipped_models_match_their_checksums():
    sums = (models_dir() / "SHA256SUMS").read_text().split("\n")
    for line in filter(None, sums):
        digest, name = line.split()
        assert hashlib.sha256((models_dir() / name).read_bytes()).hexdigest() == digest
        assert shipped_model(name).name == name


def test_emotion_model_carries_its_contract():
    clf = emoplay.EmotionClassifier()
    info = clf.info
    assert info.class_names == emoplay.EMOTIONS
    assert info.input_size == 48
    assert 0 < info.std < 1 and 0 < info.mean < 1
    assert info.version
    assert "FER2013" in info.training_data
    assert info.val_accuracy is not None and 0 < info.val_accuracy <= 1
    assert (models_dir() / "emotion_cnn.onnx").stat().st_size <= 5_000_000


@pytest.mark.slow
def test_shipped_model_meets_the_accuracy_target_and_its_metadata_is_true(fer_val):
    images, labels, _ = fer_val
    clf = emoplay.EmotionClassifier()
    predicted = np.concatenate([clf.classify_crops(images[i:i + 256]).argmax(1) for i in range(0, len(images), 256)])
    accuracy = float(np.mean(predicted == labels))
    assert accuracy >= 0.70  # the release bar on val.npz (FER2013 PublicTest)
    assert accuracy == pytest.approx(clf.info.val_accuracy, abs=5e-5)  # metadata says what the file does


def test_corrupt_model_file_is_a_clear_checksum_error(tmp_path, monkeypatch):
    folder = tmp_path / "models"
    folder.mkdir()
    for name in ("SHA256SUMS", "emotion_cnn.onnx", "face_detector.onnx"):
        (folder / name).write_bytes((models_dir() / name).read_bytes())
    data = bytearray((folder / "emotion_cnn.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "emotion_cnn.onnx").write_bytes(bytes(data))
    monkeypatch.setattr("emoplay._model_files.models_dir", lambda: folder)
    with pytest.raises(emoplay.ChecksumError, match="reinstall"):
        emoplay.EmotionClassifier()


def test_model_without_metadata_is_rejected(tmp_path):
    onnx = require_module("onnx")
    proto = onnx.load(str(models_dir() / "emotion_cnn.onnx"))
    del proto.metadata_props[:]
    path = tmp_path / "bare.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(emoplay.ModelError, match="export"):
        emoplay.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(path)))


@pytest.mark.slow
def test_wheel_carries_the_model_files(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(tmp_path), str(REPO)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("emoplay-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("emotion_cnn.onnx", "face_detector.onnx", "face_detector.tflite", "SHA256SUMS",
                 "LICENSE-face_detector.txt"):
        assert f"emoplay/_models/{name}" in names
    assert not any("training" in n or n.endswith(".npz") for n in names)


def test_every_subpackage_is_listed_for_installation():
    """pyproject lists packages explicitly: a subpackage missing there works in an editable install and is
    absent from a real one (``pip install .``), so compare the list with the folders on disk."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "emoplay").rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert on_disk - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
