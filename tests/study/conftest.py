"""Study fixtures: two short stimulus clips cut from the shared videos, a study file."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import VIDEOS, require_shared
from tests.support.study import STIMULUS_SECONDS, STUDY_TOML, cut_clip, write_tone


@pytest.fixture(scope="session")
def study_dir(tmp_path_factory) -> Path:
    """A study folder: study.toml, two 2-second clips (one with a side-car sound)."""
    folder = tmp_path_factory.mktemp("study")
    cut_clip(require_shared(VIDEOS / "no_face_animation.mp4"), folder / "animation.mp4", STIMULUS_SECONDS)
    cut_clip(require_shared(VIDEOS / "face_then_noface.mov"), folder / "room.mp4", STIMULUS_SECONDS)
    write_tone(folder / "animation.wav", STIMULUS_SECONDS)
    (folder / "study.toml").write_text(STUDY_TOML)
    return folder
