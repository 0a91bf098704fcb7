"""A real study, end to end: participants played from the shared videos, encrypted logs, a report.

Participants 1-3 run in this process (participant 3 pauses with Esc in the first stimulus and ends the
study with Q in the second); participant 4 runs through the real `emoplay study run` command under
strace, which must see no socket, no other program and no write but the log. The report then gets
those logs (participant 4's cut short), plus a log under another key, a log of another study and a file
that is not a log, and must report the usable ones and say what it left out. The CSV is checked against
the decrypted logs, the aggregates against a computation by hand on the CSV, and every output for
pixel data.
"""

from __future__ import annotations

import base64
import csv
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import pytest

import emoplay
import emoplay.sessionlog
from tests.support import VIDEOS, require, require_shared
from emoplay.bridge import valence_arousal
from emoplay.study import RunOptions, build_report, load_study, run_study
from emoplay.study.recording import StudyRecorder
from tests.support.syscall_audit import run_traced, strace_path

pytestmark = pytest.mark.slow  # whole studies, one under strace

EMOTIONS = emoplay.EMOTIONS
PARTICIPANTS = [("id-anna", "18-29", "single_face.mp4", 1), ("id-bert", "50+", "talking_smiling.mp4", 2),
                ("id-cleo", "18-29", "noface_then_face.mov", 3)]
_SCRIPT = Path(sys.executable).with_name("emoplay")
EMOPLAY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "import sys; from emoplay.cli import main; sys.exit(main())"]


def _key_event(key: int) -> None:
    import pygame

    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))


class PauseThenQuit:
    """Esc at 0.5 s into the first stimulus, Esc again to resume, Q at 0.8 s into the second."""

    def __init__(self) -> None:
        self.step = 0

    def __call__(self, state) -> None:
        import pygame

        if self.step == 0 and state.screen == "stimulus" and state.position == 1 and state.media_time >= 0.5:
            _key_event(pygame.K_ESCAPE)
            self.step = 1
        elif self.step == 1 and state.screen == "paused":
            _key_event(pygame.K_ESCAPE)
            self.step = 2
        elif self.step == 2 and state.screen == "stimulus" and state.position == 2 and state.media_time >= 0.8:
            _key_event(pygame.K_q)
            self.step = 3


@pytest.fixture(scope="module")
def study(study_dir, tmp_path_factory):
    """Run the participants; returns paths, the key and the run results."""
    folder = tmp_path_factory.mktemp("logs")
    key_file = folder / "study.key"
    emoplay.sessionlog.generate_key_file(key_file)
    key = emoplay.sessionlog.LogKey.from_file(key_file)
    spec = load_study(study_dir / "study.toml")
    results, logs = [], []
    for number, (pid, group, video, seed) in enumerate(PARTICIPANTS, start=1):
        log = folder / f"p{number}.emolog"
        on_tick = PauseThenQuit() if number == 3 else None
        results.append(run_study(spec, RunOptions(
            participant=pid, group=group, log_path=log, source=str(require_shared(VIDEOS / video)), seed=seed,
            window_size=(320, 180), autoplay=True, thanks_seconds=0.05, on_tick=on_tick), key))
        logs.append(log)
    return {"spec": spec, "key": key, "key_file": key_file, "folder": folder, "logs": logs, "results": results}


@pytest.fixture(scope="module")
def traced_participant(study, study_dir, tmp_path_factory):
    """Participant 4 through the real command line, under strace."""
    require(strace_path() is not None, "strace is not installed (apt-get install strace)")
    work = tmp_path_factory.mktemp("traced")
    log = work / "p4.emolog"
    video = require_shared(VIDEOS / "face_then_noface.mov")
    trace = run_traced([*EMOPLAY, "study", "run", str(study_dir / "study.toml"), "--participant", "id-dora",
                        "--group", "50+", "--source", str(video), "--log", str(log), "--window", "320x180",
                        "--autoplay", "--seed", "4", "--key-file", str(study["key_file"])],
                       work, allowed_writes={str(log)})
    return trace, log, work


def test_the_runs_record_every_stimulus_with_markers(study):
    spec, key = study["spec"], study["key"]
    for number, (log_path, result) in enumerate(zip(study["logs"], study["results"]), start=1):
        log = emoplay.sessionlog.read_session_log(log_path, key)
        assert log.complete and log.header.study_records
        started = log.records[0]
        assert started.type == "StudyStarted" and started.data["study"] == "reactions"
        seed = PARTICIPANTS[number - 1][3]
        assert started.data["seed"] == seed
        assert started.data["order"] == [s.id for s in spec.order_for(seed)[0]]
        ends = {r.data["stimulus"]: r.data["reason"] for r in log.records if r.type == "StimulusEnded"}
        if number == 3:
            first, second = started.data["order"]
            assert result.aborted and ends == {"_baseline": "finished", first: "finished", f"_pre-{second}": "finished",
                                               second: "aborted"}
            kinds = [r.type for r in log.records]
            assert kinds.count("StudyPaused") == 1 and kinds.count("StudyResumed") == 1
        else:
            second = started.data["order"][1]  # the rest screen before it is its pre-stimulus baseline
            assert not result.aborted and ends == {"_baseline": "finished", "animation": "finished",
                                                   "room": "finished", f"_pre-{second}": "finished"}
        durations = {r.data["stimulus"]: r.data["duration"] for r in log.records if r.type == "StimulusStarted"}
        frames = [r for r in log.records if r.type == "FrameProbabilities"]
        assert len(frames) == result.frames > 20
        by_stimulus = defaultdict(list)
        for r in frames:
            by_stimulus[r.data["stimulus"]].append(r)
            assert 0 <= r.data["media_time"] <= durations[r.data["stimulus"]] + 1e-6
            assert (r.probabilities is not None) == r.data["face"]
            if r.probabilities:
                assert set(r.probabilities) == set(EMOTIONS) and abs(sum(r.probabilities.values()) - 1) < 1e-4
        for records in by_stimulus.values():
            times = [r.data["media_time"] for r in records]
            assert times == sorted(times)
        assert any(r.data["face"] for r in frames), "a face video produced no face frame"


def test_the_command_line_run_is_offline_and_writes_only_its_log(traced_participant):
    trace, log, work = traced_participant
    assert trace.returncode == 0, trace.stderr[-1500:]
    assert "complete: 2 of 2 stimuli" in trace.stdout
    assert any(c.call in ("open", "openat") for c in trace.calls), "strace saw no file opens: it did not work"
    assert trace.violations == [], "\n".join(trace.violations[:20])
    assert sorted(p.name for p in work.iterdir()) == ["p4.emolog"]


def _side_logs(study) -> list[Path]:
    """A log under another key, a log of another study, a file that is not a log."""
    folder = study["folder"]
    other_key = emoplay.sessionlog.LogKey.from_bytes(bytes(range(100, 132)))
    paths = []
    for name, key, study_id in (("other_key.emolog", other_key, "reactions"), ("other_study.emolog", study["key"],
                                                                                 "pilot")):
        with StudyRecorder(folder / name, key) as rec:
            rec.started(1.0, study=study_id, title="x", fingerprint="0", participant="zed", group="50+",
                        order=["room"], seed=None, calibration="off", emoplay="0", model="m")
            rec.stimulus_started(1.0, "room", "Room", 1, 2.0)
        paths.append(folder / name)
    (folder / "notes.emolog").write_text("not a log\n")
    return paths + [folder / "notes.emolog"]


@pytest.fixture(scope="module")
def report(study, traced_participant, tmp_path_factory):
    _, p4, _ = traced_participant
    cut = study["folder"] / "p4_cut.emolog"
    data = p4.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    out = tmp_path_factory.mktemp("report")
    logs = [*study["logs"], cut, *_side_logs(study)]
    result = build_report(logs, study["key"], out, study="reactions")
    return {"result": result, "out": out, "logs": [*study["logs"], cut]}


def _read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_report_uses_the_usable_logs_and_says_what_it_left_out(report):
    result = report["result"]
    assert result.participants == 4
    reasons = {x.path.name: x.reason for x in result.left_out}
    assert set(reasons) == {"other_key.emolog", "other_study.emolog", "notes.emolog"}
    assert "another key" in reasons["other_key.emolog"]
    assert "another study ('pilot')" in reasons["other_study.emolog"]
    assert "not a readable emoplay session log" in reasons["notes.emolog"]
    assert [x.position for x in result.left_out] == [5, 6, 7]  # their places among the 7 logs given
    notes = " ".join(result.notes)
    assert "P04: their log was cut short" in notes
    assert "P03:" in notes and "did not play to the end" in notes
    html = (report["out"] / "report.html").read_text()
    for name in [*reasons, *(p.name for p in report["logs"])]:  # a file name may hold a participant code
        assert name not in html
    assert "Log 5 of 7 was left out: it does not open with this key" in html
    assert "was cut short" in html and "Left out or incomplete" in html
    assert not any(pid in html for pid, *_ in PARTICIPANTS) and "id-dora" not in html


def test_the_csv_holds_exactly_the_logged_frames(report, study):
    rows = _read_csv(report["out"] / "frames.csv")
    assert list(rows[0]) == ["participant", "group", "stimulus", "stimulus_title", "position", "media_time_s",
                             "face_found", *(f"p_{e}" for e in EMOTIONS), "valence", "arousal"]
    logs = [emoplay.sessionlog.read_session_log(p, study["key"], allow_truncated=True) for p in report["logs"]]
    labels = {id(log): f"P{i:02d}" for i, log in enumerate(sorted(logs, key=lambda g: g.header.started_at), 1)}
    assert not any("id-" in cell for row in rows for cell in row.values()), "a participant id leaked into the CSV"
    for log in logs:
        group = log.records[0].data["group"]
        mine = [r for r in rows if r["participant"] == labels[id(log)]]
        frames = [r for r in log.records if r.type == "FrameProbabilities"]
        assert len(mine) == len(frames) > 0
        for row, frame in zip(mine, frames):
            assert row["group"] == group and row["stimulus"] == frame.data["stimulus"]
            assert row["media_time_s"] == repr(frame.data["media_time"])
            assert row["face_found"] == str(frame.data["face"])
            for e in EMOTIONS:
                expected = "" if frame.probabilities is None else repr(frame.probabilities[e])
                assert row[f"p_{e}"] == expected
            if frame.probabilities:
                # The bridge's published table (docs/bridge/PROTOCOL.md): a study and a live host see the
                # same valence and arousal for the same face.
                valence = sum(frame.probabilities[e] * c for e, c in
                              zip(EMOTIONS, (-0.6, -0.7, -0.6, 0.8, -0.7, 0.3, 0.0)))
                arousal = sum(frame.probabilities[e] * c for e, c in
                              zip(EMOTIONS, (0.7, 0.3, 0.6, 0.4, -0.4, 0.8, 0.0)))
                total = sum(frame.probabilities.values())
                assert float(row["valence"]) == pytest.approx(valence / total, abs=1e-4)
                assert float(row["arousal"]) == pytest.approx(arousal / total, abs=1e-4)
                assert (float(row["valence"]), float(row["arousal"])) == \
                    valence_arousal(frame.probabilities)


def _by_hand(rows: list[dict], stimulus: str, width: float) -> dict:
    """participant -> bin -> list of probability vectors (face frames only)."""
    table: dict = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["stimulus"] == stimulus and r["face_found"] == "True":
            table[r["participant"]][int(float(r["media_time_s"]) // width)].append(
                [float(r[f"p_{e}"]) for e in EMOTIONS])
    return table


def _mean(vectors):
    return [sum(v[k] for v in vectors) / len(vectors) for k in range(len(EMOTIONS))]


def test_timelines_shares_and_summary_match_a_computation_by_hand(report):
    out = report["out"]
    rows = _read_csv(out / "frames.csv")
    timelines = _read_csv(out / "timelines.csv")
    shares = _read_csv(out / "shares.csv")
    summary = _read_csv(out / "summary.csv")
    checked = 0
    for stimulus in ("animation", "room"):
        table = _by_hand(rows, stimulus, 0.5)
        for line in (t for t in timelines if t["stimulus"] == stimulus and t["group"] == "all"):
            b, k = int(round(float(line["bin_start_s"]) / 0.5)), EMOTIONS.index(line["emotion"])
            values = [_mean(bins[b])[k] for bins in table.values() if bins.get(b)]
            assert int(line["n"]) == len(values)
            if values:
                assert float(line["mean"]) == pytest.approx(statistics.fmean(values), abs=1e-9)
                if len(values) >= 2:
                    sem = statistics.stdev(values) / math.sqrt(len(values))
                    assert float(line["sem"]) == pytest.approx(sem, abs=1e-9)
                    checked += 1
        seconds = _by_hand(rows, stimulus, 1.0)
        for share in (s for s in shares if s["stimulus"] == stimulus and s["group"] == "all"):
            sec, emotion = int(share["second_start"]), share["emotion"]
            dominant = [EMOTIONS[max(range(7), key=_mean(bins[sec]).__getitem__)]
                        for bins in seconds.values() if bins.get(sec)]
            assert int(share["n"]) == len(dominant)
            if dominant:
                assert float(share["share"]) == pytest.approx(dominant.count(emotion) / len(dominant), abs=1e-12)
        for group in ("all", "18-29", "50+"):
            row = next(s for s in summary if s["stimulus"] == stimulus and s["group"] == group)
            people = {p for p in table if group == "all" or any(
                r["participant"] == p and r["group"] == group for r in rows)}
            means = [_mean([v for vs in table[p].values() for v in vs]) for p in people]
            for k, e in enumerate(EMOTIONS):
                assert float(row[f"mean_p_{e}"]) == pytest.approx(statistics.fmean(m[k] for m in means), abs=6e-5)
    assert checked > 10, "too few bins with two or more participants to check the SEM"


_BLOB = re.compile(rb"[A-Za-z0-9+/=]{256,}")


def test_no_output_holds_pixel_data(report, study):
    out = report["out"]
    result = report["result"]
    names = sorted(p.name for p in out.iterdir())
    pngs = [n for n in names if n.endswith(".png")]
    assert pngs == sorted(f"{s}_{kind}.png" for s in ("animation", "room") for kind in ("heatmap", "isc", "shares",
                                                                                        "timelines"))
    assert sorted(Path(f).name for f in result.files) == names
    html = (out / "report.html").read_bytes()
    embedded = re.findall(rb'src="data:image/png;base64,([^"]+)"', html)
    assert sorted(base64.b64decode(e) for e in embedded) == sorted((out / n).read_bytes() for n in pngs), \
        "the HTML embeds something other than the report's own plots"
    assert len(_BLOB.findall(re.sub(rb'src="data:image/png;base64,[^"]+"', b"", html))) == 0
    assert b"<script" not in html and b"http://" not in html and b"https://" not in html
    for name in names:
        data = (out / name).read_bytes()
        if name.endswith(".csv"):
            assert not _BLOB.search(data), f"{name} holds a long encoded blob"
            for row in csv.reader(data.decode().splitlines()):
                assert len(row) <= 20 and all(len(cell) <= 200 for cell in row), f"{name}: an oversized row"
    for path in report["logs"]:  # the logs themselves: short members only, no arrays beyond the stimulus order
        for record in emoplay.sessionlog.read_session_log(path, study["key"], allow_truncated=True).records:
            text = json.dumps(record.to_dict())
            assert len(text) < 1500 and not _BLOB.search(text.encode())
            for value in record.to_dict().values():
                assert not isinstance(value, (list, dict)) or len(value) <= 16


def test_the_plots_are_real_pictures_of_the_data(report):
    import cv2
    import numpy as np

    image = cv2.imread(str(report["out"] / "room_heatmap.png"))
    assert image is not None and image.shape[1] == 1200
    # The heatmap shows 4 participants; most of its cells are coloured by an emotion, not background.
    happy = np.all(np.abs(image.astype(int) - (0x01, 0xB7, 0xF2)) < 8, axis=2).sum()
    neutral = np.all(np.abs(image.astype(int) - (0x7F, 0x7F, 0x7F)) < 8, axis=2).sum()
    assert happy + neutral > 10_000


def test_parquet_holds_the_csv_table_when_pyarrow_is_there(report):
    out, result = report["out"], report["result"]
    try:
        import pyarrow.parquet as pq
    except ImportError:  # an optional extra: then the report says it was not written
        assert not result.parquet and not (out / "frames.parquet").exists()
        assert any("frames.parquet was not written: pyarrow is not installed" in n for n in result.notes)
        return
    table = pq.read_table(out / "frames.parquet").to_pylist()
    rows = _read_csv(out / "frames.csv")
    assert result.parquet and len(table) == len(rows)
    for got, row in zip(table, rows):
        assert got["participant"] == row["participant"] and str(got["face_found"]) == row["face_found"]
        assert repr(got["media_time_s"]) == row["media_time_s"]
        assert ("" if got["p_happy"] is None else repr(got["p_happy"])) == row["p_happy"]


def test_the_report_command_says_what_it_left_out(study, report, tmp_path, capsys):
    from emoplay.cli import main

    side = [p for p in (study["folder"] / n for n in ("other_key.emolog", "notes.emolog")) if p.exists()]
    code = main(["study", "report", *map(str, study["logs"]), *map(str, side), "--key-file", str(study["key_file"]),
                 "--out", str(tmp_path / "r"), "--no-plots"])
    captured = capsys.readouterr()
    assert code == 3, captured.err
    assert "left out" in captured.err and "other_key.emolog" in captured.err and "notes.emolog" in captured.err
    assert (tmp_path / "r" / "report.html").exists() and not list((tmp_path / "r").glob("*.png"))
    code = main(["study", "report", *map(str, side), "--key-file", str(study["key_file"]), "--out",
                 str(tmp_path / "none"), "--no-plots"])
    captured = capsys.readouterr()
    assert code == 2 and "no usable study log" in captured.err and "Traceback" not in captured.err
