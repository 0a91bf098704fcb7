"""The study file: a valid one loads; every mistake is refused with the field named."""

from __future__ import annotations

import pytest

from emoplay import StudySpecError
from emoplay.study import load_study

from tests.support.study import STUDY_TOML


def test_the_example_study_loads(study_dir):
    spec = load_study(study_dir / "study.toml")
    assert spec.id == "reactions" and spec.order == "shuffled" and spec.calibration
    assert spec.calibration_seconds == 1.0 and spec.rest_seconds == 0.5 and spec.groups == ("18-29", "50+")
    assert [s.id for s in spec.stimuli] == ["animation", "room"]
    assert spec.stimuli[0].audio == study_dir / "animation.wav" and spec.stimuli[1].audio is None
    assert spec.stimuli[1].title == "A man leaves the room"
    assert len(spec.fingerprint) == 16


def test_shuffled_orders_come_from_their_seed(study_dir):
    spec = load_study(study_dir / "study.toml")
    orders = {seed: tuple(s.id for s in spec.order_for(seed)[0]) for seed in range(20)}
    assert set(orders.values()) == {("animation", "room"), ("room", "animation")}  # both orders occur
    assert all(spec.order_for(seed)[0] == spec.order_for(seed)[0] for seed in range(5))  # and repeat
    order, seed = spec.order_for(None)
    assert isinstance(seed, int) and spec.order_for(seed)[0] == order  # a drawn seed is returned to record


@pytest.mark.parametrize("change, field", [
    (lambda t: t.replace('id = "reactions"', 'id = "two words"'), "id"),
    (lambda t: t.replace('id = "reactions"\n', ''), "id"),
    (lambda t: t.replace('order = "shuffled"', 'order = "random"'), "order"),
    (lambda t: t.replace('calibration = true', 'calibration = "yes"'), "calibration"),
    (lambda t: t.replace('rest_seconds = 0.5', 'rest_seconds = -1'), "rest_seconds"),
    (lambda t: t.replace('groups = ["18-29", "50+"]', 'groups = ["a", "a"]'), "groups"),
    (lambda t: t.replace('groups = ["18-29", "50+"]', 'groups = ["all", "50+"]'), "groups"),  # the pooled group
    (lambda t: t.replace('file = "room.mp4"', 'file = "missing.mp4"'), "stimuli[1].file"),
    (lambda t: t.replace('id = "room"', 'id = "animation"'), "stimuli[1].id"),
    (lambda t: t.replace('audio = "animation.wav"', 'audio = "room.mp4"'), "stimuli[0].audio"),
    (lambda t: t.replace('title = "A man leaves the room"', 'colour = "red"'), "stimuli[1].colour"),
    (lambda t: 'shuffle = true\n' + t, "shuffle"),
    (lambda t: t.split("[[stimuli]]")[0], "stimuli"),
])
def test_mistakes_name_the_field(study_dir, tmp_path, change, field):
    for name in ("animation.mp4", "animation.wav", "room.mp4"):
        (tmp_path / name).symlink_to(study_dir / name)
    path = tmp_path / "study.toml"
    path.write_text(change(STUDY_TOML))
    with pytest.raises(StudySpecError) as info:
        load_study(path)
    assert f": {field}: " in str(info.value), str(info.value)


def test_not_toml_and_missing_file(tmp_path):
    (tmp_path / "bad.toml").write_text("title = \n")
    with pytest.raises(StudySpecError, match="not valid TOML"):
        load_study(tmp_path / "bad.toml")
    with pytest.raises(StudySpecError, match="does not exist"):
        load_study(tmp_path / "nope.toml")


@pytest.mark.slow
def test_importing_the_study_package_loads_no_heavy_library(study_dir):
    import subprocess
    import sys

    code = ("import sys, emoplay.study as s; s.load_study(sys.argv[1]); "
            "print(sorted(m for m in ('cv2', 'pygame', 'matplotlib', 'onnxruntime') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(study_dir / "study.toml")], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_a_report_can_read_the_study_file_without_its_videos(tmp_path):
    (tmp_path / "study.toml").write_text(STUDY_TOML)  # no media beside it
    with pytest.raises(StudySpecError, match="stimuli\\[0\\].file"):
        load_study(tmp_path / "study.toml")
    spec = load_study(tmp_path / "study.toml", check_media=False)
    assert [s.title for s in spec.stimuli] == ["An animation", "A man leaves the room"]


def test_study_check_reads_media_in_a_folder_whose_name_is_not_utf8(study_dir, tmp_path):
    """The real CLI in a subprocess: OpenCV given such a name used to crash the interpreter."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    folder = tmp_path / os.fsdecode(b"study\xff")
    shutil.copytree(study_dir, folder)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-m", "emoplay.cli", "study", "check", os.fsencode(folder / "study.toml")],
                          capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    assert b"animation: 'An animation', 2.0 s" in done.stdout and b"room:" in done.stdout
