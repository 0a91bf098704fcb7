"""models/convert_face_detector.py reproduces the shipped face_detector.onnx from face_detector.tflite."""

from __future__ import annotations

import importlib.util

from emoplay._model_files import expected_checksums, sha256_of
from tests.support import REPO, require_module


def _converter():
    spec = importlib.util.spec_from_file_location("convert_face_detector", REPO / "models" / "convert_face_detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_converting_the_tflite_file_again_gives_the_shipped_onnx_file(tmp_path):
    require_module("tflite", "the converter reads the tflite flatbuffer with the tflite package (test extra)")
    onnx = require_module("onnx")
    out = tmp_path / "face_detector.onnx"
    _converter().convert(REPO / "models" / "face_detector.tflite", out)
    assert sha256_of(out) == expected_checksums(REPO / "models")["face_detector.onnx"]
    model = onnx.load(str(out))
    assert {n.op_type for n in model.graph.node} <= {"Transpose", "Conv", "Relu", "Add", "MaxPool", "Pad",
                                                     "Reshape", "Concat", "Identity"}
    meta = {p.key: p.value for p in model.metadata_props}
    assert expected_checksums(REPO / "models")["face_detector.tflite"] in meta["emoplay.source"]
    assert "Apache-2.0" in meta["emoplay.license"]
