"""Time to explain one face with ``emoplay explain``'s occlusion maps (run: python -m pytest benchmarks --benchmark-enable)."""

from __future__ import annotations

import pytest

import emoplay
import emoplay.explain

pytestmark = pytest.mark.bench


@pytest.mark.parametrize("stride", [4, 2])  # 4: the default, 121 occluded crops + 1; 2: 441 + 1
def test_occlusion_map_of_one_face(benchmark, classifier, crops, stride):
    options = emoplay.explain.SaliencyOptions(occlusion=emoplay.explain.OcclusionOptions(patch=8, stride=stride))
    explainer = emoplay.explain.SaliencyExplainer(options, classifier=classifier)
    (face,) = benchmark(explainer.explain_crops, crops[:1])
    assert face.saliency.shape == crops.shape[1:]
