"""The shipped model's mirror view, run by the classifier: both views at once, or one view at a time."""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from tests.support import require_module


@pytest.fixture(scope="module")
def classifier():
    with emoplay.pipeline.EmotionClassifier() as c:
        yield c


@pytest.fixture(scope="module")
def faces(fer_val):
    return fer_val[0][:64]


def test_the_shipped_model_runs_its_mirror_view_in_the_classifier(classifier):
    assert classifier.info.mirror_view == "runtime" and classifier.info.output == "probabilities"
    assert classifier.flip_average  # ClassifierOptions.flip_average=None: as the file says


@pytest.mark.slow
def test_both_views_one_at_a_time_give_classify_crops_bit_for_bit(classifier, faces):
    n = len(faces)
    face = classifier.classify_views(faces, np.zeros(n, bool), raw=True)
    mirror = classifier.classify_views(faces, np.ones(n, bool), raw=True)
    np.testing.assert_array_equal(classifier.combine_views([face, mirror]), classifier.classify_crops(faces))
    # a mixed batch: each face's row is that face's chosen view
    mixed = classifier.classify_views(faces, np.arange(n) % 2 == 1, raw=True)
    np.testing.assert_array_equal(mixed[0::2], face[0::2])
    np.testing.assert_array_equal(mixed[1::2], mirror[1::2])
    # the mirror view is the face flipped left-right, classified alone
    alone = classifier.classify_views(faces[:, :, ::-1].copy(), np.zeros(n, bool))
    np.testing.assert_array_equal(alone, classifier.classify_views(faces, np.ones(n, bool)))
    np.testing.assert_allclose(alone.sum(1), 1, atol=1e-5)
    assert not np.array_equal(face, mirror)


@pytest.mark.slow
def test_flip_average_off_classifies_one_view_and_refuses_classify_views(faces):
    with emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(flip_average=False)) as one:
        assert not one.flip_average
        with pytest.raises(ValueError, match="mirror view"):
            one.classify_views(faces, np.zeros(len(faces), bool))
        with emoplay.pipeline.EmotionClassifier() as both:
            np.testing.assert_allclose(one.classify_crops(faces),
                                       both.classify_views(faces, np.zeros(len(faces), bool)), atol=1e-6)


def test_bad_view_arguments_say_what_is_wrong(classifier, faces):
    with pytest.raises(ValueError, match="3 flags for 64 faces"):
        classifier.classify_views(faces, [True, False, True])
    with pytest.raises(ValueError, match="one or two views"):
        classifier.combine_views([])
    with pytest.raises(TypeError, match="flip_average"):
        emoplay.ClassifierOptions(flip_average="yes")


def test_a_file_with_an_unknown_output_kind_is_refused(tmp_path):
    onnx = require_module("onnx")
    from emoplay._model_files import models_dir

    model = onnx.load(str(models_dir() / "emotion_cnn.onnx"))
    for prop in model.metadata_props:
        if prop.key == "emoplay.output":
            prop.value = "scores"
    path = tmp_path / "odd.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(emoplay.ModelError, match="emoplay.output is 'scores'"):
        emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(path)))
