"""The example study runs as its README says: the README's shell block, as written, in a copy of the example.

The block is read from examples/study/README.md, so commands that drift from the program fail here. It runs in
bash (stopping at the first failing command) from a copy of the repository's ``examples/study`` folder, with
``FACES`` pointing at the shared face videos, emoplay and Python from this environment first on the PATH, and
no display or sound card. Then the report's files must exist and hold both participants and every stimulus.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import emoplay
from tests.support import REPO, VIDEOS, require, require_module, require_shared

pytestmark = pytest.mark.slow  # two whole study runs in real time and a report: about a minute

EXAMPLE = REPO / "examples" / "study"
STIMULI = {"drift": "Slow colours", "flash": "A sudden flash", "smiley": "A smiley"}
GROUPS = {"P01": "18-29", "P02": "50+"}
TIMEOUT_S = 300  # two runs of about 20 s each and a report, with room for a loaded machine


def readme_commands() -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```", (EXAMPLE / "README.md").read_text(), re.S | re.M)
    assert len(blocks) == 1, "examples/study/README.md should give its commands in one ```sh block"
    return blocks[0]


def read_csv(path: Path, delimiter: str = ",") -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> Path:
    """The README's commands, run from a fresh copy of the example; returns the example folder afterwards."""
    require_module("pygame", "the study window is Pygame")
    require_module("matplotlib", "the report's plots need matplotlib")
    faces = require_shared(VIDEOS)
    emoplay_script = Path(sys.executable).with_name("emoplay")
    require(emoplay_script.exists(), f"no emoplay command beside {sys.executable}: pip install -e . installs it")
    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(EXAMPLE, root / "examples" / "study",
                    ignore=shutil.ignore_patterns("stimuli", "logs", "report", "study.key", "__pycache__"))
    env = {**os.environ, "FACES": str(faces), "PATH": f"{emoplay_script.parent}{os.pathsep}{os.environ['PATH']}"}
    for name in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER", "PYGAME_HIDE_SUPPORT_PROMPT"):
        env.pop(name, None)  # the README must set the first two itself; emoplay hides pygame's greeting
    done = subprocess.run(["bash", "-e", "-c", readme_commands()], cwd=root, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, f"the README's commands failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
    assert done.stdout.count("complete: 3 of 3 stimuli shown to the end") == 2, done.stdout
    assert "wrote " in done.stdout and "for 2 participants" in done.stdout, done.stdout
    assert "pygame community" not in done.stdout + done.stderr
    return root / "examples" / "study"


def test_the_stimuli_are_made_and_the_logs_written(example):
    assert sorted(p.name for p in (example / "stimuli").iterdir()) == ["drift.mp4", "flash.mp4", "flash.wav",
                                                                         "smiley.png"]
    assert sorted(p.name for p in (example / "logs").iterdir()) == ["P001.emolog", "P002.emolog"]


def test_participant_summary_has_both_participants_for_every_stimulus_and_expression(example):
    rows = read_csv(example / "report" / "participant_summary.csv")
    cells = {(r["participant"], r["stimulus"], r["expression"]) for r in rows}
    assert cells == {(p, s, e) for p in GROUPS for s in STIMULI for e in emoplay.EMOTIONS}
    assert len(rows) == len(cells)
    for row in rows:
        assert row["group"] == GROUPS[row["participant"]]
        assert row["baseline"] == "pre-stimulus, difference"
        assert int(row["frames"]) > 10
        assert float(row["face_found_share"]) > 0.5  # both videos show a face nearly all the time
        assert -1.0 <= float(row["mean"]) <= 1.0  # a baseline-corrected probability
        assert 0.0 <= float(row["dominant_share"]) <= 1.0


def test_group_tests_compare_the_groups_and_say_two_participants_are_too_few(example):
    rows = read_csv(example / "report" / "group_tests.csv")
    assert {(r["stimulus"], r["expression"]) for r in rows} == {(s, e) for s in STIMULI for e in emoplay.EMOTIONS}
    assert len(rows) == len(STIMULI) * len(emoplay.EMOTIONS)
    for row in rows:
        assert (row["group_a"], row["group_b"], row["n_a"], row["n_b"]) == ("18-29", "50+", "1", "1")
        assert row["p"] == "" and row["hedges_g"] == ""
        assert row["note"].startswith("too few participants for a test: 1 in 18-29 and 1 in 50+ have a value")
        assert abs(float(row["mean_a"]) - float(row["mean_b"]) - float(row["difference"])) < 1e-9
    isc = read_csv(example / "report" / "isc.csv")
    assert {r["stimulus"] for r in isc} == set(STIMULI)
    assert all(r["isc"] == "" and r["note"].startswith("too few participants") for r in isc)
    # n counts the participants the note counts: a face in enough bins and a value that changes
    assert all(r["note"].startswith(f"too few participants: {r['n']} with") for r in isc)


def test_the_html_report_shows_every_section_and_stimulus(example):
    html = (example / "report" / "report.html").read_text(encoding="utf-8")
    for heading in ("Participants", "Group comparisons", "Inter-subject correlation", *STIMULI.values()):
        assert f">{heading}" in html, heading
    assert html.count("data:image/png;base64,") >= 4 * len(STIMULI)
    assert "P001" not in html and "P002" not in html  # the report uses pseudonyms
    for stimulus in STIMULI:
        for plot in ("timelines", "shares", "heatmap", "isc"):
            assert (example / "report" / f"{stimulus}_{plot}.png").stat().st_size > 5000


def test_the_bids_export_holds_both_participants(example):
    bids = example / "report" / "bids"
    assert json.loads((bids / "dataset_description.json").read_text())["Name"].startswith("An example study")
    assert {r["participant_id"]: r["group"] for r in read_csv(bids / "participants.tsv", "\t")} == {
        "sub-P01": "18-29", "sub-P02": "50+"}
    for sub in ("sub-P01", "sub-P02"):
        beh = bids / sub / "beh"
        events = read_csv(beh / f"{sub}_task-example_events.tsv", "\t")
        shown = [e for e in events if e["trial_type"] == "stimulus"]
        assert sorted(e["stimulus"] for e in shown) == sorted(STIMULI)
        assert all(e["ended"] == "finished" for e in shown)
        assert [e["trial_type"] for e in events].count("pre-stimulus") == len(STIMULI)  # a fixation cross each
        sidecar = json.loads((beh / f"{sub}_task-example_physio.json").read_text())
        with gzip.open(beh / f"{sub}_task-example_physio.tsv.gz", "rt") as f:
            physio = [line.rstrip("\n").split("\t") for line in f]
        assert len(physio) > sidecar["SamplingFrequency"] * 10  # more than the 10 s of stimuli and screens
        assert {len(row) for row in physio} == {len(sidecar["Columns"])}
        assert any(row[0] != "n/a" and float(row[0]) > 0.5 for row in physio)  # a face was seen


def test_the_readme_finds_the_face_videos_beside_a_checkout_by_default():
    default = re.search(r"^FACES=\$\{FACES:-(\S+)\}", readme_commands(), re.M)
    assert default, "the README's block should set FACES=${FACES:-...}"
    assert (EXAMPLE / default.group(1)).resolve() == (REPO.parent / "shared" / "data" / "videos").resolve()
