"""models/convert_face_detector.py reproduces the shipped face detectors (short and full range) from their tflite files."""

from __future__ import annotations

import importlib.util

import pytest

from emoplay._model_files import expected_checksums, sha256_of
from tests.support import REPO, require_module

SHORT_RANGE_OPS = {"Transpose", "Conv", "Relu", "Add", "MaxPool", "Reshape", "Concat", "Identity"}


def _converter():
    spec = importlib.util.spec_from_file_location("convert_face_detector", REPO / "models" / "convert_face_detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("source, target, ops, side, anchors", [
    ("face_detector.tflite", "face_detector.onnx", SHORT_RANGE_OPS, 128, 896),
    ("face_detector_full_range.tflite", "face_detector_full_range.onnx",
     SHORT_RANGE_OPS - {"MaxPool", "Concat"} | {"Pad", "Resize", "DepthToSpace"}, 192, 2304),
])
def test_converting_the_tflite_file_again_gives_the_shipped_onnx_file(tmp_path, source, target, ops, side, anchors):
    require_module("tflite", "the converter reads the tflite flatbuffer with the tflite package (test extra)")
    onnx = require_module("onnx")
    out = tmp_path / target
    _converter().convert(REPO / "models" / source, out)
    assert sha256_of(out) == expected_checksums(REPO / "models")[target]
    model = onnx.load(str(out))
    assert {n.op_type for n in model.graph.node} == ops
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in [*model.graph.input,
                                                                                   *model.graph.output]}
    assert shapes == {"input": [1, side, side, 3], "regressors": [1, anchors, 16], "classificators": [1, anchors, 1]}
    meta = {p.key: p.value for p in model.metadata_props}
    assert expected_checksums(REPO / "models")[source] in meta["emoplay.source"]
    assert "Apache-2.0" in meta["emoplay.license"]
