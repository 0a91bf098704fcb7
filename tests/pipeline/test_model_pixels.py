"""The pixel preprocessing a model file names (emoplay.pixels) is what the runtime applies to each crop."""

from __future__ import annotations

import numpy as np
import pytest

from emoplay import ClassifierOptions, ModelError
from emoplay.pipeline import EmotionClassifier
from emoplay._model_files import EMOTION_MODEL, shipped_model
from emoplay.pipeline._classify import equalize_crop


def _with_pixels(tmp_path, value: str | None):
    import onnx

    proto = onnx.load(str(shipped_model(EMOTION_MODEL)))
    kept = [p for p in proto.metadata_props if p.key != "emoplay.pixels"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    if value is not None:
        entry = proto.metadata_props.add()
        entry.key, entry.value = "emoplay.pixels", value
    path = tmp_path / f"model_{value}.onnx"
    onnx.save(proto, str(path))
    return str(path)


def _faces(n: int = 6) -> np.ndarray:
    rng = np.random.default_rng(3)
    base = np.linspace(40, 150, 48, dtype=np.float32)[None, :] + np.linspace(0, 40, 48, dtype=np.float32)[:, None]
    return np.clip(base[None] + rng.normal(0, 12, (n, 48, 48)), 0, 255).astype(np.uint8)


def test_equalized_model_sees_equalized_crops(tmp_path):
    faces = _faces()
    with EmotionClassifier(ClassifierOptions(model_path=_with_pixels(tmp_path, "equalized"))) as eq, \
            EmotionClassifier(ClassifierOptions(model_path=_with_pixels(tmp_path, "original"))) as orig:
        assert eq.info.pixels == "equalized" and orig.info.pixels == "original"
        expected = orig.classify_crops(np.stack([equalize_crop(f) for f in faces]))
        np.testing.assert_allclose(eq.classify_crops(faces), expected, atol=1e-6)
        # and it is not a no-op: these low-contrast faces change when equalised
        assert np.abs(orig.classify_crops(faces) - expected).max() > 1e-3


def test_files_without_the_key_get_original_pixels(tmp_path):
    with EmotionClassifier(ClassifierOptions(model_path=_with_pixels(tmp_path, None))) as clf:
        assert clf.info.pixels == "original"


def test_unknown_pixel_version_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="emoplay.pixels"):
        EmotionClassifier(ClassifierOptions(model_path=_with_pixels(tmp_path, "sepia")))


def test_an_explicit_calibration_defaults_to_the_models_strength(tmp_path):
    """emoplay.calibration_strength in the file is the strength CalibrationOptions() calibrates at; an explicit
    strength wins; files without it keep DEFAULT_STRENGTH."""
    import onnx

    from emoplay.calibration import CalibrationOptions, CalibrationState
    from emoplay.calibration.baseline import DEFAULT_STRENGTH

    path = _with_pixels(tmp_path, "original")
    proto = onnx.load(path)
    kept = [p for p in proto.metadata_props if p.key != "emoplay.calibration_strength"]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    onnx.save(proto, str(tmp_path / "plain.onnx"))
    entry = proto.metadata_props.add()
    entry.key, entry.value = "emoplay.calibration_strength", "0.25"
    onnx.save(proto, str(tmp_path / "tuned.onnx"))
    with EmotionClassifier(ClassifierOptions(model_path=str(tmp_path / "tuned.onnx"))) as tuned, \
            EmotionClassifier(ClassifierOptions(model_path=str(tmp_path / "plain.onnx"))) as plain:
        assert tuned.info.calibration_strength == 0.25 and plain.info.calibration_strength == DEFAULT_STRENGTH
        state = CalibrationState(tuned.class_names, tuned.info.version, model_strength=0.25)
    state.start(CalibrationOptions())
    assert state._calibrator.strength == 0.25
    state.start(CalibrationOptions(strength=0.6))
    assert state._calibrator.strength == 0.6
    entry.value = "7"
    onnx.save(proto, str(tmp_path / "bad.onnx"))
    with pytest.raises(ModelError, match="malformed"):
        EmotionClassifier(ClassifierOptions(model_path=str(tmp_path / "bad.onnx")))
