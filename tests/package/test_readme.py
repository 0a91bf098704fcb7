"""The code samples users copy run for real: README.md's ``python`` blocks and the package docstring's example.

Each sample is read from its file, so a sample that drifts from the library fails here. It runs as written
with one change: ``source="camera"`` becomes a shared video played at its own speed that, like a camera,
needs the indicator (``require_indicator=True``): a sample that never draws the indicator or calls
``heartbeat()`` pauses after a second, as a copied camera game would, and never gets to the smile. The
names a sample leaves to the game are real objects: ``playing`` is true at 60 frames a second until the
video has ended, ``npc`` records what it is asked to react to, ``screen`` is a pygame surface.
"""

from __future__ import annotations

import re
import textwrap
import time

import pytest

import emoplay
from tests.support import REPO, require_module, require_shared

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

CAMERA = 'source="camera"'
VIDEO = "data/videos/single_face.mp4"  # neutral, then a broad smile from about 0.8 s
DEADLINE_S = 60.0  # far more than the 2.4 s clip needs, even on a loaded machine


def readme_samples() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", (REPO / "README.md").read_text(), re.S | re.M)


def docstring_sample() -> str:
    """The indented example of ``emoplay.__doc__`` (the first block after the opening line)."""
    block = re.search(r"\n\n((?: {4}.*\n|\n)+)", emoplay.__doc__)
    assert block, "the package docstring has no indented example"
    return textwrap.dedent(block.group(1))


class Npc:
    def __init__(self) -> None:
        self.reactions: list[tuple[str, float]] = []

    def react(self, emotion: str, confidence: float) -> None:
        self.reactions.append((emotion, confidence))


class GameLoop:
    """The game's ``playing`` flag: each test of it is one frame (paced at 60 fps), false once the video
    has ended or the deadline passed."""

    def __init__(self, namespace: dict) -> None:
        import pygame

        self.namespace, self.clock, self.frames = namespace, pygame.time.Clock(), 0
        self.deadline = time.monotonic() + DEADLINE_S
        self.ended = False

    def __bool__(self) -> bool:
        self.clock.tick(60)
        self.frames += 1
        sensor = self.namespace.get("sensor")
        self.ended = sensor is not None and not sensor.running and sensor.camera_state in (
            emoplay.CameraState.OFF, emoplay.CameraState.ERROR)
        return not self.ended and time.monotonic() < self.deadline


def run_sample(code: str) -> dict:
    """Run ``code`` on the shared video in place of the camera; its namespace afterwards."""
    pygame = require_module("pygame", "the README sample draws the Pygame camera indicator")
    video = require_shared(VIDEO)
    assert code.count(CAMERA) == 1, f"the sample should open the camera once with {CAMERA}"
    code = code.replace(CAMERA, f"source={str(video)!r}, realtime=True, require_indicator=True")
    namespace: dict = {"npc": Npc(), "screen": pygame.Surface((640, 360))}
    namespace["playing"] = GameLoop(namespace)
    try:
        exec(compile(code, "<sample>", "exec"), namespace)
    finally:
        sensor = namespace.get("sensor")
        if sensor is not None:
            sensor.close()
    return namespace


def check_the_game_saw_the_smile(namespace: dict) -> None:
    loop = namespace["playing"]
    assert loop.ended, f"the video did not play to its end within {DEADLINE_S:g} s: did the sample pause it?"
    assert loop.frames > 10
    assert "happy" in [emotion for emotion, _ in namespace["npc"].reactions]
    assert all(0.0 <= confidence <= 1.0 for _, confidence in namespace["npc"].reactions)


def test_readme_has_a_python_sample():
    assert readme_samples(), "README.md has no ```python block"


@pytest.mark.parametrize("index", range(len(readme_samples())))
def test_readme_sample_runs_and_reacts_to_the_smile(index):
    namespace = run_sample(readme_samples()[index])
    check_the_game_saw_the_smile(namespace)
    from emoplay.pygame import INDICATOR_RED

    pixels = require_module("pygame").surfarray.array3d(namespace["screen"])
    assert (pixels == INDICATOR_RED).all(axis=-1).any(), "the camera indicator was never drawn capturing"
    assert namespace["sensor"].camera_state is emoplay.CameraState.OFF  # closed by the sample


def test_package_docstring_sample_runs_and_reacts_to_the_smile():
    namespace = run_sample(docstring_sample())
    check_the_game_saw_the_smile(namespace)
