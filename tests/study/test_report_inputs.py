"""The report on awkward inputs: participant codes in log file names, a log without frames, --out not a folder.

The logs are made by the real code: `emoplay study run` itself (with its default log name) and the
StudyRecorder it writes through.
"""

from __future__ import annotations

import csv

import pytest

import emoplay
import emoplay.sessionlog
from tests.support import VIDEOS, require_shared
from emoplay.cli import main
from emoplay.study import build_report
from emoplay.study.recording import FrameSample, Playhead, StudyRecorder

pytestmark = pytest.mark.slow  # participants played from the shared videos

HAPPY = emoplay.EMOTIONS.index("happy")


def _probabilities(shown: int) -> tuple[float, ...]:
    return tuple(0.9 if k == shown else 0.1 / 6 for k in range(len(emoplay.EMOTIONS)))


def write_log(path, key, participant, frames=20, group="50+"):
    """A log of study 'reactions' as `study run` writes it: StudyStarted, then ``frames`` frames of 'room'.

    ``frames=0``: the participant pressed Q right after the camera started.
    """
    with StudyRecorder(path, key) as rec:
        rec.started(1.0, study="reactions", title="Reactions to two clips", fingerprint="f", participant=participant,
                    group=group, order=["room"], seed=None, calibration="off", emoplay="x", model="m")
        if frames:
            head = Playhead()
            head.start(10.0)
            rec.stimulus_started(10.0, "room", "A man leaves the room", 1, 2.0)
            rec.frames([FrameSample(10.0 + i * 0.1, 1, _probabilities(HAPPY)) for i in range(frames)], "room", head)
            rec.stimulus_ended(12.0, "room", 2.0, "finished")
    return path


@pytest.fixture
def key_file(tmp_path):
    return emoplay.sessionlog.generate_key_file(tmp_path / "study.key")


def test_the_shared_report_holds_no_participant_code_from_log_file_names(study_dir, tmp_path, key_file, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    video = require_shared(VIDEOS / "single_face.mp4")
    assert main(["study", "run", str(study_dir / "study.toml"), "--participant", "id-anna", "--group", "18-29",
                 "--key-file", str(key_file), "--source", str(video), "--autoplay", "--window", "320x180",
                 "--seed", "1"]) == 0
    (anna,) = tmp_path.glob("reactions-id-anna-*.emolog")  # the default name holds the participant code
    again = tmp_path / "reactions-id-anna-20260102-090000.emolog"  # a second log of her
    again.write_bytes(anna.read_bytes())
    key = emoplay.sessionlog.LogKey.from_file(key_file)
    bert = write_log(tmp_path / "reactions-id-bert-20260102-100000.emolog", key, "id-bert")
    data = bert.read_bytes()
    bert.write_bytes(data[: len(data) * 2 // 3])  # cut short
    cleo = tmp_path / "reactions-id-cleo-20260102-110000.emolog"  # a path that is not there
    capsys.readouterr()

    code = main(["study", "report", str(anna), str(again), str(bert), str(cleo), "--key-file", str(key_file),
                 "--out", "report", "--no-plots"])

    err = capsys.readouterr().err
    assert code == 3, err
    html = (tmp_path / "report" / "report.html").read_text(encoding="utf-8")
    for code_or_name in ("id-anna", "id-bert", "id-cleo", anna.name, again.name, bert.name, cleo.name):
        assert code_or_name not in html
    assert "Log 2 of 4 was left out: it is a second log of P01, whose first log is in this report" in html
    assert "Log 4 of 4 was left out: it cannot be read (No such file or directory)" in html
    assert "P02: their log was cut short" in html
    for table in (tmp_path / "report").glob("*.csv"):
        assert "id-" not in table.read_text(encoding="utf-8"), table.name
    # The researcher's terminal, which stays on the study computer, names the files.
    assert f"left out log 2 ({again}): it is a second log of P01" in err
    assert f"left out log 4 ({cleo}): it cannot be read" in err


def test_with_keep_ids_the_report_uses_the_codes_as_typed(tmp_path, key_file):
    key = emoplay.sessionlog.LogKey.from_file(key_file)
    first = write_log(tmp_path / "a.emolog", key, "id-anna")
    second = tmp_path / "b.emolog"
    second.write_bytes(first.read_bytes())
    result = build_report([first, second], key, tmp_path / "out", keep_ids=True, plots=False)
    assert [x.reason for x in result.left_out] == [
        "it is a second log of id-anna, whose first log is in this report; report it separately if both count"]
    with open(tmp_path / "out" / "participants.csv", newline="", encoding="utf-8") as f:
        assert [row["label"] for row in csv.DictReader(f)] == ["id-anna"]


def test_logs_without_frames_give_a_clear_error_and_write_nothing(tmp_path, key_file, capsys):
    key = emoplay.sessionlog.LogKey.from_file(key_file)
    empty = write_log(tmp_path / "quit.emolog", key, "P1", frames=0)
    out = tmp_path / "out"
    with pytest.raises(emoplay.StudyError, match="none of the usable logs holds a frame"):
        build_report([empty], key, out, plots=False)
    assert not out.exists()
    code = main(["study", "report", str(empty), "--key-file", str(key_file), "--out", str(out), "--no-plots"])
    err = capsys.readouterr().err
    assert code == 2 and "no report was written" in err and "Traceback" not in err and not out.exists()
    # Beside a log with frames, the participant who quit is listed with no frames.
    result = build_report([empty, write_log(tmp_path / "p2.emolog", key, "P2")], key, out, plots=False)
    assert result.participants == 2 and not result.left_out
    with open(out / "participants.csv", newline="", encoding="utf-8") as f:
        assert [(row["frames"], row["face_found_share"]) for row in csv.DictReader(f)] == [("0", ""), ("20", "1.0")]


def test_an_out_that_cannot_be_a_folder_is_a_clear_error(tmp_path, key_file):
    key = emoplay.sessionlog.LogKey.from_file(key_file)
    log = write_log(tmp_path / "p.emolog", key, "P1")
    (tmp_path / "report.txt").write_text("keep me")
    with pytest.raises(emoplay.StudyError, match="--out .*report.txt is a file; give a folder"):
        build_report([log], key, tmp_path / "report.txt", plots=False)
    with pytest.raises(emoplay.StudyError, match="cannot create this folder \\(Not a directory\\)"):
        build_report([log], key, tmp_path / "report.txt" / "rep", plots=False)
    assert (tmp_path / "report.txt").read_text() == "keep me"


def test_the_last_timeline_point_lies_inside_the_video():
    # A 7.3 s video in 1 s bins: the last bin covers 7.0-7.3 s, so its point goes at 7.15 s, not at 7.5 s.
    from emoplay.study.aggregate import timelines
    from emoplay.study.plots import bin_middles

    rows = [{"stimulus": "clip", "participant": "P1", "group": "", "face_found": True, "media_time_s": t,
             **{f"p_{e}": (1.0 if e == "happy" else 0.0) for e in emoplay.EMOTIONS}} for t in (0.2, 3.4, 7.25)]
    (line,) = timelines(rows, "clip", 1.0, duration=7.3)  # one group: one line
    middles = bin_middles(line, 7.3)
    assert len(middles) == 8 and middles.max() <= 7.3
    assert middles[:7].tolist() == [k + 0.5 for k in range(7)] and middles[-1] == pytest.approx(7.15)
    assert bin_middles(line, 0.0)[-1] == 7.5  # duration unknown: the bin's own middle
