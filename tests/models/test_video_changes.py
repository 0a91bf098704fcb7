"""benchmarks/video_changes.py, behind the model card's event counts: a real video, the real model."""

from __future__ import annotations

import pytest

from tests.support import REPO, SHARED, require_shared


@pytest.mark.slow
def test_a_sustained_smile_is_one_change_after_the_first_neutral():
    from benchmarks import video_changes

    video = require_shared(SHARED / "data" / "videos" / "single_face.mp4")
    found = video_changes.changes(REPO / "models" / "emotion_cnn.onnx", video)
    assert [emotion for _, emotion in found] == ["neutral", "happy"]
    assert 0.6 < found[1][0] < 1.2  # the smile begins at about 0.8 s (the videos' README)
