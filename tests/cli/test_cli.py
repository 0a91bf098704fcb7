"""The emoplay command, in-process and as the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import emoplay
from emoplay.cli import main
from tests.support import require


def events_of(capsys):
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_watch_json_on_a_video_gives_exactly_the_expected_stream(video, capsys):
    assert main(["watch", "--source", str(video("single_face.mp4")), "--json"]) == 0
    events = events_of(capsys)
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["CameraStateChanged", "CameraStateChanged"]
    assert kinds[-1] == "CameraStateChanged" and events[-1]["reason"] == "end of stream"
    primary = [(e["previous"], e["current"]) for e in events if e["event"] == "PrimaryFaceChanged"]
    middle = [e for e in events if e["event"] not in ("CameraStateChanged", "PrimaryFaceChanged")]
    assert middle[0]["event"] == "FaceFound" and middle[0]["is_primary"]
    assert primary == [(None, middle[0]["track_id"]), (middle[0]["track_id"], None)]
    assert middle[-1]["event"] == "FaceLost"
    emotions = [e for e in middle[1:-1]]
    assert all(e["event"] == "EmotionChanged" and e["track_id"] == middle[0]["track_id"] for e in emotions)
    assert [e["current"] for e in emotions] in (["neutral", "happy"], ["happy"])  # no extra events
    assert emotions[-1]["confidence"] > 0.5
    assert set(emotions[-1]["probabilities"]) == set(emoplay.EMOTIONS)


@pytest.mark.slow
def test_watch_stability_picks_the_preset(video, capsys):
    """The talking clip: dialogue reports a handful of changes, responsive several times more (real model)."""
    counts = {}
    for preset in ("responsive", "dialogue"):
        assert main(["watch", "--source", str(video("talking_smiling.mp4")), "--json", "--stability", preset]) == 0
        counts[preset] = sum(e["event"] == "EmotionChanged" for e in events_of(capsys))
    assert 1 <= counts["dialogue"] <= 7 and counts["responsive"] >= 3 * counts["dialogue"]


def test_watch_signal_hz_adds_face_signals_and_refuses_a_rate_above_60(video, capsys):
    assert main(["watch", "--source", str(video("single_face.mp4")), "--json", "--signal-hz", "4"]) == 0
    signals = [e for e in events_of(capsys) if e["event"] == "FaceSignal"]
    assert 7 <= len(signals) <= 11  # 4 a second over the ~2.3 s the face is in view
    assert signals[-1]["emotion"] == "happy" and signals[-1]["valence"] > 0.3
    with pytest.raises(SystemExit):
        main(["watch", "--source", str(video("single_face.mp4")), "--signal-hz", "61"])
    assert "at most 60" in capsys.readouterr().err


def test_serve_takes_the_source_options_stability_and_signal_rate():
    from emoplay.cli import build_parser
    from emoplay.cli._arguments import sensor_options_from_args

    args = build_parser().parse_args(["serve", "--source", "clip.mp4", "--stability", "dialogue", "--signal-hz", "10"])
    options = sensor_options_from_args(args)
    assert options.pipeline.debounce_options == emoplay.STABILITY_PRESETS["dialogue"] and options.signal_hz == 10


def test_watch_text_output_is_readable(video, capsys):
    assert main(["watch", "--source", str(video("single_face.mp4"))]) == 0
    out = capsys.readouterr().out
    assert "face 1 found" in out and "-> happy" in out and "face 1 lost" in out


def test_watch_missing_file_and_corrupt_video_are_one_clear_line(tmp_path, capsys):
    assert main(["watch", "--source", str(tmp_path / "nope.mp4")]) == 2
    assert "nope.mp4 does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 10)
    assert main(["watch", "--source", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot decode" in err and "bad.mp4" in err


def _face_folder(folder, frames, count: int = 8):
    import cv2

    folder.mkdir()
    for k in range(count):
        assert cv2.imwrite(str(folder / f"{k:02d}.png"), frames[k % len(frames)])
    return folder


def test_watch_prints_the_last_events_of_a_stream_that_fails_and_exits_1(tmp_path, happy_and_neutral_frames,
                                                                         capsys):
    folder = _face_folder(tmp_path / "frames", happy_and_neutral_frames["happy"])
    (folder / "99.png").write_bytes(b"not a png at all")  # the stream fails on its last image
    assert main(["watch", "--source", str(folder), "--json"]) == 1
    events = events_of(capsys)
    kinds = [e["event"] for e in events]
    assert "FaceFound" in kinds and kinds.count("FaceLost") == kinds.count("FaceFound")  # the failure's batch
    assert kinds[-1] == "SensorFailed" and "99.png" in events[-1]["message"]
    assert [e["current"] for e in events if e["event"] == "CameraStateChanged"][-1] == "error"


def test_an_image_that_went_away_mid_stream_is_reported_as_unreadable_not_undecodable(tmp_path,
                                                                                        happy_and_neutral_frames):
    folder = _face_folder(tmp_path / "frames", happy_and_neutral_frames["happy"], count=2)
    source = emoplay.ImageFolderSource(folder)
    source.open()
    (folder / "01.png").unlink()  # listed when the folder opened, gone when its turn came
    assert source.read(1.0).index == 0
    with pytest.raises(emoplay.VideoReadError, match="cannot read image .*01.png: No such file"):
        source.read(1.0)


def test_a_folder_that_cannot_be_listed_is_a_source_error(tmp_path, monkeypatch):
    import pathlib

    def refuse(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(pathlib.Path, "iterdir", refuse)  # as root, mode 000 would not stop the listing
    with pytest.raises(emoplay.SourceError, match="cannot list image folder .*Permission denied.*permissions"):
        emoplay.ImageFolderSource(tmp_path).open()


@pytest.mark.parametrize("argv, message", [
    (["watch", "--threads", "0"], "must be at least 1"), (["watch", "--width", "-640"], "must be at least 1"),
    (["watch", "--fps", "-1"], "must be greater than 0"), (["watch", "--fps", "nan"], "finite"),
    (["watch", "--max-seconds", "-1"], "must be 0 or more"), (["doctor", "--max-cameras", "-2"], "at least 1"),
    (["serve", "--max-seconds", "nan"], "finite"),
    (["serve", "--keepalive", "1e308"], "must be at most 3600 seconds"), (["serve", "--keepalive", "0"], "than 0"),
    (["serve", "--hello-timeout", "inf"], "finite"), (["serve", "--max-clients", "100000000"], "at most 1024"),
    *[([command, *required, "--threads", "100000"], "the CPUs this process may use; got 100000")
      for command, required in (("watch", []), ("serve", []), ("explain", ["face.png"]), ("eval", ["val.npz"]))],
])
def test_bad_option_values_are_usage_errors_not_tracebacks(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_a_log_is_not_created_when_the_source_does_not_open(tmp_path, capsys):
    key = tmp_path / "k.key"
    assert main(["log", "keygen", str(key)]) == 0
    log = tmp_path / "session.emolog"
    assert main(["watch", "--source", str(tmp_path / "typo.mp4"), "--log", str(log), "--key-file", str(key)]) == 2
    assert "typo.mp4 does not exist" in capsys.readouterr().err
    assert not log.exists()  # the corrected rerun is not refused with "already exists"


def test_ctrl_d_or_ctrl_c_at_the_consent_question_is_a_no(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    for key in (EOFError, KeyboardInterrupt):
        def answer(_question, key=key):
            raise key

        monkeypatch.setattr("builtins.input", answer)
        assert main(["watch", "--source", "7"]) == 1  # no camera opened: camera 7 would be an error (2)


def test_ctrl_c_while_watch_starts_stops_it_cleanly(video, capsys, monkeypatch):
    from emoplay.sensor._sensor import Sensor

    def interrupted(self, wait=True):
        raise KeyboardInterrupt

    monkeypatch.setattr(Sensor, "start", interrupted)
    assert main(["watch", "--source", str(video("single_face.mp4"))]) == 0


def test_a_malformed_checksum_list_is_a_model_error(tmp_path):
    from emoplay._model_files import expected_checksums

    (tmp_path / "SHA256SUMS").write_text("ab" * 32 + "  a.onnx\ndeadbeef\n")
    with pytest.raises(emoplay.ModelError, match="line 2 is not 'SHA256  FILE'.*reinstall"):
        expected_checksums(tmp_path)


def test_watch_camera_without_consent_does_not_open_it(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["watch", "--source", "camera"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_watch_no_camera_is_a_clear_error(capsys):
    assert main(["watch", "--source", "7", "--yes"]) == 2
    assert "cannot open camera 7" in capsys.readouterr().err


def test_watch_writes_an_encrypted_log_that_log_show_reads(video, tmp_path, capsys):
    key = tmp_path / "k.key"
    assert main(["log", "keygen", str(key)]) == 0
    capsys.readouterr()
    log = tmp_path / "session.emolog"
    assert main(["watch", "--source", str(video("single_face.mp4")), "--json", "--log", str(log),
                 "--key-file", str(key)]) == 0
    watched = [e for e in events_of(capsys) if e["event"] == "EmotionChanged"]
    assert main(["log", "show", str(log), "--key-file", str(key), "--format", "jsonl"]) == 0
    records = events_of(capsys)
    assert [r["emotion"] for r in records if r["type"] == "EmotionChanged"] == [e["current"] for e in watched]
    assert [r["type"] for r in records][0] == "FaceFound" and records[-1]["type"] == "FaceLost"


@pytest.mark.slow
def test_doctor_reports_models_and_timings(capsys):
    from emoplay._model_files import models_dir

    assert main(["doctor", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert all(m["ok"] for m in report["models"])
    # the models emoplay runs, each checked: every .onnx file of the models folder (build-time files are not)
    shipped = sorted(p.name for p in models_dir().glob("*.onnx"))
    assert sorted(Path(m["file"]).name for m in report["models"]) == shipped
    assert report["cameras"] is None and report["cameras_probed"] is False  # no camera opened without consent
    assert report["timings_ms"]["face detection (640x480)"] > 0
    assert "telemetry off" in report["telemetry"]


def test_console_script_is_installed():
    exe = shutil.which("emoplay", path=str(__import__("pathlib").Path(sys.executable).parent))
    require(exe is not None, "emoplay is not installed as a console script in this environment (pip install -e .)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"emoplay {emoplay.__version__}"


@pytest.mark.parametrize("module", ["emoplay", "emoplay.cli"])
def test_python_dash_m_runs_the_command(module):
    done = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.strip() == f"emoplay {emoplay.__version__}"


@pytest.mark.parametrize("options", ["ClassifierOptions", "DetectorOptions"])
def test_library_options_bound_the_thread_count(options):
    with pytest.raises(ValueError, match=r"threads must be >= 1 and <= 256, got 100000"):
        getattr(emoplay, options)(threads=100000)


@pytest.mark.parametrize("argv, usage", [(["watch", "--bogus"], "usage: emoplay watch "),
                                         (["log", "show", "x.emolog", "--bogus"], "usage: emoplay log show "),
                                         (["--bogus", "watch"], "usage: emoplay watch ")])
def test_an_unknown_option_is_named_with_its_commands_usage(argv, usage, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(usage) and "unrecognized arguments: --bogus" in err


def test_a_folder_of_one_or_two_photos_gives_each_photos_faces(tmp_path, video, capsys):
    # As a stream, two photos never confirm a face (it takes 3 frames in a row): watch printed nothing at all.
    import cv2

    from emoplay import EndOfStream, VideoFileSource

    source = VideoFileSource(video("single_face.mp4"))
    source.open()
    frames = []
    try:
        while True:
            frames.append(source.read(1.0).pixels)
    except EndOfStream:
        pass
    finally:
        source.close()
    photos = tmp_path / "photos"
    photos.mkdir()
    cv2.imwrite(str(photos / "a_smile.png"), frames[-10])
    cv2.imwrite(str(photos / "b_wall.png"), np.full((240, 320, 3), 90, np.uint8))
    assert main(["watch", "--source", str(photos)]) == 0
    captured = capsys.readouterr()
    assert "reading each as a separate photo" in captured.err
    lines = captured.out.splitlines()
    assert lines[0].startswith("a_smile.png: face 1 at (") and lines[0].split(": ")[-1].startswith("happy (")
    assert lines[1] == "b_wall.png: no face found"
    assert main(["watch", "--source", str(photos), "--stills", "--json"]) == 0  # the same, forced, as JSON
    smile, wall = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert smile["image"] == "a_smile.png" and smile["faces"][0]["emotion"] == "happy" and wall["faces"] == []
    assert main(["watch", "--source", str(video("single_face.mp4")), "--stills"]) == 2
    assert "--stills reads a folder of images" in capsys.readouterr().err
