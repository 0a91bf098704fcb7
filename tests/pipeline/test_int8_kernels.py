"""Which int8 kernels the classifier runs (``ClassifierOptions.int8_kernels``), and that "exact" is exact.

On x86-64 CPUs without VNNI, onnxruntime's fast u8 x s8 kernels sum pairs of products in 16 bits, which saturates
for full-range 8-bit weights; "exact" (u8 x u8) does not. The last test checks against onnxruntime's own float
evaluation of the same file on real FER2013 faces.
"""

from __future__ import annotations

import numpy as np
import pytest

import emoplay
import emoplay.pipeline
from emoplay import _cpu
from emoplay.pipeline._classify import int8_kernels_for

FULL_RANGE = "int8 static QDQ, per-channel weights, calibrated on 1000 training images"
SEVEN_BIT = "int8 static QDQ, per-channel 7-bit weights (no 16-bit saturation on CPUs without VNNI)"


def test_int8_kernels_must_be_a_known_choice():
    with pytest.raises(ValueError, match="int8_kernels must be one of auto, fast, exact"):
        emoplay.ClassifierOptions(int8_kernels="turbo")


@pytest.mark.parametrize("saturates", [True, False])
def test_auto_picks_exact_kernels_only_for_full_range_weights_where_sums_saturate(monkeypatch, saturates):
    monkeypatch.setattr(_cpu, "int8_sums_saturate", lambda: saturates)
    assert int8_kernels_for("auto", FULL_RANGE) == ("exact" if saturates else "fast")
    assert int8_kernels_for("auto", SEVEN_BIT) == "fast"
    assert int8_kernels_for("auto", None) == "fast"  # a float model has no int8 kernels to choose
    assert int8_kernels_for("fast", FULL_RANGE) == "fast" and int8_kernels_for("exact", SEVEN_BIT) == "exact"
    # Files from model 1.2 on carry emoplay.weight_bits, which wins over the text.
    assert int8_kernels_for("auto", FULL_RANGE, "7") == "fast"
    assert int8_kernels_for("auto", SEVEN_BIT, "8") == ("exact" if saturates else "fast")


@pytest.mark.parametrize("machine, flags, saturates", [
    ("x86_64", {"avx2", "fma"}, True),
    ("x86_64", {"avx2", "avx512f"}, True),  # AVX-512 without VNNI
    ("x86_64", {"avx2", "avx512f", "avx512_vnni"}, False),
    ("AMD64", {"avx2", "avx_vnni"}, False),
    ("x86_64", None, True),  # flags unknown: assume the worst
    ("aarch64", {"asimd"}, False),
])
def test_saturation_follows_the_cpu(monkeypatch, machine, flags, saturates):
    monkeypatch.setattr(_cpu.platform, "machine", lambda: machine)
    monkeypatch.setattr(_cpu, "cpu_flags", lambda: None if flags is None else frozenset(flags))
    assert _cpu.int8_sums_saturate() is saturates


@pytest.mark.slow
def test_the_classifier_reports_the_kernels_it_opened():
    with emoplay.pipeline.EmotionClassifier() as auto:
        meta = dict(auto._session.get_modelmeta().custom_metadata_map)
        assert auto.int8_kernels == int8_kernels_for("auto", meta.get("emoplay.quantization"),
                                                     meta.get("emoplay.weight_bits"))
    for kind in ("fast", "exact"):
        with emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(int8_kernels=kind)) as classifier:
            assert classifier.int8_kernels == kind


@pytest.mark.slow
def test_exact_kernels_agree_with_the_float_evaluation_of_the_same_model(fer_val):
    """On any CPU: the argmax of "exact" matches onnxruntime's float evaluation (Q/DQ not fused) on >= 99 % of
    real faces. (On an AMD EPYC without VNNI the fast kernels matched on 91.7 % of FER val with
    full-range weights: models/EXPERIMENTS.md.)"""
    from emoplay._onnxruntime import import_onnxruntime

    images = fer_val[0][:240]
    ort = import_onnxruntime()
    with emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(int8_kernels="exact")) as exact:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.add_session_config_entry("session.disable_quant_qdq", "1")  # run the QDQ graph in float
        reference = ort.InferenceSession(exact.info.path, so, providers=["CPUExecutionProvider"])
        if exact.info.pixels == "equalized":  # the file's preprocessing, as the classifier applies it
            from emoplay.pipeline._classify import equalize_crop

            images = np.stack([equalize_crop(face) for face in images])
        x = ((images.astype(np.float32) / 255 - exact.info.mean) / exact.info.std)[:, None]
        name = reference.get_inputs()[0].name
        expected = np.concatenate([reference.run(None, {name: x[i:i + 60]})[0] for i in range(0, len(x), 60)])
        if exact.flip_average:  # the file holds one view (model 1.1.2): the classifier adds the mirror image
            expected = expected + np.concatenate([reference.run(None, {name: x[i:i + 60, :, :, ::-1].copy()})[0]
                                                  for i in range(0, len(x), 60)])
        got = exact.classify_crops(images)
    agree = np.mean(got.argmax(1) == expected.argmax(1))
    assert agree >= 0.99, agree
