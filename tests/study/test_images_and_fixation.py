"""Still images as stimuli and a fixation cross between stimuli, run headless through the real runner.

The participant is a shared video played as the camera; the screens are drawn on pygame's dummy driver, and
the test reads the window's pixels while the fixation cross is up.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import emoplay
import emoplay.sessionlog
from tests.support import VIDEOS, require_shared
from emoplay import StudySpecError
from emoplay.study import RunOptions, build_report, load_study, run_study

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

STILL_TOML = """\
id = "stills"
title = "A still and a clip"
calibration = false
rest_seconds = 0.4
fixation_seconds = 0.6

[[stimuli]]
id = "still"
file = "still.png"
title = "A grey square"
seconds = 1.2

[[stimuli]]
id = "clip"
file = "animation.mp4"
"""


@pytest.fixture
def still_study(study_dir, tmp_path):
    import cv2

    image = np.full((90, 160, 3), 128, np.uint8)
    cv2.imwrite(str(tmp_path / "still.png"), image)
    shutil.copy(study_dir / "animation.mp4", tmp_path / "animation.mp4")
    (tmp_path / "study.toml").write_text(STILL_TOML)
    return tmp_path


def test_an_image_shows_for_its_seconds_after_a_fixation_cross(still_study, tmp_path):
    import pygame

    spec = load_study(still_study / "study.toml")
    assert spec.fixation_seconds == 0.6 and spec.stimuli[0].is_image and spec.stimuli[0].seconds == 1.2
    seen: list[tuple[str, int, tuple]] = []

    def watch(state):
        surface = pygame.display.get_surface()
        w, h = surface.get_size()
        seen.append((state.screen, state.position, tuple(surface.get_at((w // 2, h // 2)))[:3]))

    key = emoplay.sessionlog.LogKey.from_bytes(bytes(32))
    log = tmp_path / "p.emolog"
    result = run_study(spec, RunOptions(participant="P1", group="g", log_path=log, window_size=(320, 180),
                                        source=str(require_shared(VIDEOS / "single_face.mp4")), autoplay=True,
                                        thanks_seconds=0.05, on_tick=watch), key)
    assert result.completed == ("still", "clip") and not result.aborted

    screens = [s for s, _, _ in seen]
    order = [s for i, s in enumerate(screens) if i == 0 or s != screens[i - 1]]
    assert order[order.index("fixation"):] == ["fixation", "stimulus", "rest", "fixation", "stimulus", "thanks"]
    assert all(pixel == (235, 235, 235) for s, _, pixel in seen if s == "fixation")  # the cross's centre
    assert all(pixel == (128, 128, 128) for s, p, pixel in seen if s == "stimulus" and p == 1)  # the grey image

    records = emoplay.sessionlog.read_session_log(log, key).records
    started = {r.data["stimulus"]: r.data for r in records if r.type == "StimulusStarted"}
    assert started["_pre-still"]["duration"] == pytest.approx(0.6)  # the first: fixation only
    assert started["_pre-clip"]["duration"] == pytest.approx(1.0)  # rest and fixation
    assert started["still"]["duration"] == pytest.approx(1.2)
    ended = {r.data["stimulus"]: r.data for r in records if r.type == "StimulusEnded"}
    assert set(ended) == {"_pre-still", "still", "_pre-clip", "clip"}
    assert ended["still"]["media_time"] == pytest.approx(1.2) and ended["still"]["reason"] == "finished"
    frames = [r for r in records if r.type == "FrameProbabilities"]
    for segment, seconds in (("_pre-still", 0.6), ("still", 1.2), ("_pre-clip", 1.0)):
        times = [r.data["media_time"] for r in frames if r.data["stimulus"] == segment]
        assert times and max(times) <= seconds + 1e-6, segment

    # The pre-stimulus frames are the report's pre-stimulus baseline.
    from emoplay.study.baseline import BaselineOptions
    from emoplay.study.report import AnalysisOptions

    out = tmp_path / "report"
    build_report([log], key, out, plots=False, analysis=AnalysisOptions(baseline=BaselineOptions("pre-stimulus")))
    rows = (out / "participant_summary.csv").read_text().splitlines()
    assert sum(",still," in r for r in rows) == 7 and all("pre-stimulus, difference" in r for r in rows[1:])


@pytest.mark.parametrize("change, message", [
    (lambda t: t.replace("seconds = 1.2\n", ""), "stimuli[0].seconds: is missing: still.png is a still image"),
    (lambda t: t.replace('file = "animation.mp4"', 'file = "animation.mp4"\nseconds = 3'),
     "stimuli[1].seconds: is only for still images"),
    (lambda t: t.replace("seconds = 1.2", "seconds = 0"), "stimuli[0].seconds: must be a number of seconds"),
    (lambda t: t.replace("fixation_seconds = 0.6", "fixation_seconds = -1"), "fixation_seconds: must be"),
])
def test_image_and_fixation_mistakes_name_the_field(still_study, change, message):
    (still_study / "study.toml").write_text(change(STILL_TOML))
    with pytest.raises(StudySpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_study(still_study / "study.toml")


def test_check_lists_an_image_with_its_size_and_seconds(still_study, capsys):
    from emoplay.cli import main

    assert main(["study", "check", str(still_study / "study.toml")]) == 0
    out = capsys.readouterr().out
    assert "fixation 0.6 s" in out and "still: 'A grey square', still image 160x90 shown 1.2 s" in out
