"""`emoplay log ...`, run in-process through a throwaway parser built with register()."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emoplay.cli._arguments import add_key_arguments, key_from_args
from emoplay.cli.log import EXIT_ERROR, EXIT_INVALID, EXIT_OK, EXIT_TRUNCATED, parse_age, register
from emoplay._clock import ManualClock
from emoplay._errors import LogError
from emoplay._events import EmotionChanged, FaceFound, FaceLost
from emoplay.sessionlog import LogKey, SessionLogWriter

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parents[2]


def emoplay(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="emoplay")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def _changed(track: int, previous: str, current: str, confidence: float, t: float) -> EmotionChanged:
    probs = {current: confidence, "neutral": round(1 - confidence, 3)} if current != "neutral" else {current: 1.0}
    return EmotionChanged(track, previous, current, confidence, probs, t)


SESSION = [
    FaceFound(1, (0, 0, 50, 50), 1000.0, True),
    _changed(1, "unknown", "neutral", 0.8, 1000.4),
    _changed(1, "neutral", "happy", 0.9, 1003.0),
    FaceFound(2, (60, 0, 50, 50), 1004.0),
    _changed(2, "unknown", "surprise", 0.6, 1004.5),
    _changed(1, "happy", "surprise", 0.7, 1006.0),
    _changed(1, "surprise", "fear", 0.55, 1007.5),
    FaceLost(2, 1008.0),
    _changed(1, "fear", "sad", 0.65, 1009.0),
    _changed(1, "sad", "angry", 0.5, 1011.0),
    _changed(1, "angry", "neutral", 0.85, 1013.0),
    FaceLost(1, 1016.0),
]


def _write_session(path: Path, key: LogKey, *, started_at: float, crash: bool = False) -> None:
    """Log SESSION; with ``crash``, leave the file as a crash before close() would."""
    target = path.with_suffix(".writing") if crash else path
    with SessionLogWriter(target, key, include_probabilities=True, clock=ManualClock(started_at)) as writer:
        for event in SESSION:
            writer.write(event)
        if crash:
            path.write_bytes(target.read_bytes())


def test_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    key_file = tmp_path / "log.key"
    assert emoplay("log", "keygen", key_file) == EXIT_OK
    assert "log.key" in capsys.readouterr().out
    assert emoplay("log", "keygen", key_file) == EXIT_ERROR
    assert "never overwrites" in capsys.readouterr().err

    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "session.emolog"
    _write_session(log, LogKey.from_file(key_file), started_at=time.time())

    assert emoplay("log", "show", log, "--key-file", key_file, "--format", "jsonl") == EXIT_OK
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == len(SESSION)
    assert lines[2] == {"index": 2, "type": "EmotionChanged", "timestamp": 1003.0, "track_id": 1,
                        "emotion": "happy", "previous": "neutral", "confidence": 0.9,
                        "probabilities": {"happy": 0.9, "neutral": 0.1}}

    assert emoplay("log", "show", log, "--key-file", key_file, "--format", "csv") == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == len(SESSION)
    assert (rows[2]["emotion"], rows[2]["p_happy"], rows[2]["p_neutral"], rows[0]["p_happy"]) == (
        "happy", "0.9", "0.1", "")
    assert list(rows[0])[7:] == ["count", "data", "p_angry", "p_fear", "p_happy", "p_sad", "p_surprise", "p_neutral"]
    assert [row["timestamp"] for row in rows[:3]] == ["1000.0", "1000.4", "1003.0"]  # the times the table shows

    assert emoplay("log", "show", log, "--key-file", key_file) == EXIT_OK
    table = capsys.readouterr().out.splitlines()
    assert table[0].startswith("# session.emolog: started") and "12 records, complete" in table[0]
    assert table[1].split() == ["index", "time_s", "event", "track", "emotion", "previous", "confidence"]
    assert table[4].split() == ["2", "1003.000", "EmotionChanged", "1", "happy", "neutral", "0.900"]  # stream time

    assert emoplay("log", "verify", log, "--key-file", key_file) == EXIT_OK
    assert capsys.readouterr().out.startswith("ok: session.emolog")

    png = tmp_path / "out" / "timeline.png"
    assert emoplay("log", "plot", log, "--key-file", key_file, "--out", png) == EXIT_OK
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 10_000

    # prune: this log is fresh, so nothing goes; an old one does.
    old = logs / "old.emolog"
    _write_session(old, LogKey.from_file(key_file), started_at=time.time() - 40 * 86400)
    (logs / "notes.txt").write_text("not a log")
    capsys.readouterr()
    assert emoplay("log", "prune", logs, "--older-than", "30d", "--key-file", key_file, "--dry-run") == EXIT_OK
    assert "would delete 1 of 2" in capsys.readouterr().out and old.exists()
    assert emoplay("log", "prune", logs, "--older-than", "30d", "--key-file", key_file) == EXIT_OK
    assert "deleted 1 of 2" in capsys.readouterr().out
    assert not old.exists() and log.exists() and (logs / "notes.txt").exists()


def test_passphrase_from_environment(tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "s.emolog"
    _write_session(log, LogKey.from_passphrase("open sesame", scrypt_log2_n=10), started_at=1.0e9)
    monkeypatch.setenv("EMOPLAY_TEST_PASS", "open sesame")
    assert emoplay("log", "verify", log, "--passphrase-env", "EMOPLAY_TEST_PASS") == EXIT_OK
    monkeypatch.setenv("EMOPLAY_TEST_PASS", "open barley")
    assert emoplay("log", "verify", log, "--passphrase-env", "EMOPLAY_TEST_PASS") == EXIT_INVALID
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "wrong key or passphrase" in err
    monkeypatch.delenv("EMOPLAY_TEST_PASS")
    assert emoplay("log", "show", log, "--passphrase-env", "EMOPLAY_TEST_PASS") == EXIT_ERROR
    assert "EMOPLAY_TEST_PASS is not set" in capsys.readouterr().err


def test_no_key_and_no_terminal_is_a_clear_error(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert emoplay("log", "verify", tmp_path / "whatever.emolog") == EXIT_ERROR
    assert "pass --key-file FILE or --passphrase-env VAR" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--passphrase", "--passphrase-e", "--pass"])
def test_passphrase_is_never_an_argument(option: str, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        emoplay("log", "show", "x.emolog", option, "hunter2")
    assert info.value.code == 2  # refused, not read as an abbreviation of --passphrase-env
    if option == "--passphrase":
        assert "hunter2" not in capsys.readouterr().err


def test_passphrase_env_takes_a_name_not_a_passphrase(capsys) -> None:
    assert emoplay("log", "show", "x.emolog", "--passphrase-env", "my secret!") == EXIT_ERROR
    err = capsys.readouterr().err
    assert "NAME of an environment variable" in err and "secret" not in err


def test_key_from_args_prompts_on_a_terminal() -> None:
    parser = argparse.ArgumentParser()
    add_key_arguments(parser)
    args = parser.parse_args([])
    answers = iter(["pw one", "pw one"])
    key = key_from_args(args, confirm=True, prompt=lambda _: next(answers), isatty=lambda: True)
    assert key.kind == "passphrase"
    answers = iter(["pw one", "pw two"])
    with pytest.raises(LogError, match="differ"):
        key_from_args(args, confirm=True, prompt=lambda _: next(answers), isatty=lambda: True)
    with pytest.raises(SystemExit):
        parser.parse_args(["--key-file", "a", "--passphrase-env", "B"])


def test_ctrl_d_at_the_passphrase_prompt_is_no_passphrase() -> None:
    parser = argparse.ArgumentParser()
    add_key_arguments(parser)

    def end_of_input(_question: str) -> str:
        raise EOFError

    with pytest.raises(LogError, match="no passphrase entered"):
        key_from_args(parser.parse_args([]), prompt=end_of_input, isatty=lambda: True)


def test_tampered_and_truncated_logs(tmp_path: Path, capsys) -> None:
    key = LogKey.from_bytes(os.urandom(32))
    key_file = tmp_path / "k.key"
    key_file.write_bytes(key._secret)
    cut = tmp_path / "cut.emolog"
    _write_session(cut, key, started_at=1.0e9, crash=True)
    assert emoplay("log", "verify", cut, "--key-file", key_file) == EXIT_TRUNCATED
    assert "file was cut short" in capsys.readouterr().err
    assert emoplay("log", "show", cut, "--key-file", key_file, "--format", "jsonl") == EXIT_TRUNCATED
    out, err = capsys.readouterr()
    assert len(out.splitlines()) == len(SESSION) and "cut short" in err

    tampered = tmp_path / "tampered.emolog"
    data = bytearray((tmp_path / "cut.emolog").read_bytes())
    data[200] ^= 0x40
    tampered.write_bytes(bytes(data))
    assert emoplay("log", "show", tampered, "--key-file", key_file, "--format", "jsonl") == EXIT_INVALID
    out, err = capsys.readouterr()
    assert out == "" and "failed authentication" in err

    assert emoplay("log", "show", key_file, "--key-file", key_file) == EXIT_INVALID
    assert "not an emoplay session log" in capsys.readouterr().err


def test_prune_by_mtime_needs_no_key(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    key = LogKey.from_bytes(bytes(32))
    old, new = tmp_path / "old.emolog", tmp_path / "new.emolog"
    for path in (old, new):
        _write_session(path, key, started_at=time.time())
    past = time.time() - 3 * 3600
    os.utime(old, (past, past))
    assert emoplay("log", "prune", tmp_path, "--older-than", "2h", "--by", "mtime") == EXIT_OK
    assert not old.exists() and new.exists()


def test_prune_skips_logs_it_cannot_authenticate(tmp_path: Path, capsys) -> None:
    other = LogKey.from_bytes(b"\x01" * 32)
    (tmp_path / "k.key").write_bytes(bytes(32))
    _write_session(tmp_path / "theirs.emolog", other, started_at=0.0)
    assert emoplay("log", "prune", tmp_path, "--older-than", "1d", "--key-file", tmp_path / "k.key") == EXIT_OK
    assert "skipped theirs.emolog" in capsys.readouterr().err
    assert (tmp_path / "theirs.emolog").exists()


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("2w", 14 * 86400),
                                               ("90m", 5400), ("1.5s", 1.5)])
def test_parse_age(text: str, seconds: float) -> None:
    assert parse_age(text) == seconds


@pytest.mark.parametrize("text", ["30", "d", "-3d", "3y", ""])
def test_parse_age_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_age(text)


def test_plot_of_an_empty_log(tmp_path: Path, capsys) -> None:
    (tmp_path / "k.key").write_bytes(bytes(32))
    with SessionLogWriter(tmp_path / "e.emolog", LogKey.from_bytes(bytes(32))):
        pass
    png = tmp_path / "e.png"
    assert emoplay("log", "plot", tmp_path / "e.emolog", "--key-file", tmp_path / "k.key", "--out", png) == EXIT_OK
    assert png.read_bytes()[:8] == PNG_MAGIC


@pytest.mark.slow
def test_a_plot_that_cannot_be_written_is_one_clear_line(tmp_path: Path, capsys) -> None:
    key = LogKey.from_bytes(bytes(32))
    (tmp_path / "k.key").write_bytes(bytes(32))
    with SessionLogWriter(tmp_path / "e.emolog", key) as writer:
        writer.write(SESSION[0])
    (tmp_path / "a_file").write_text("")
    for out in (tmp_path, tmp_path / "a_file" / "x.png"):  # a folder; a path under a file
        assert emoplay("log", "plot", tmp_path / "e.emolog", "--key-file", tmp_path / "k.key", "--out", out) \
            == EXIT_ERROR
        assert f"cannot write the plot to {out}" in capsys.readouterr().err


def test_a_log_whose_clock_was_not_in_unix_seconds_still_shows(tmp_path: Path, capsys) -> None:
    key = LogKey.from_bytes(bytes(32))
    (tmp_path / "k.key").write_bytes(bytes(32))
    with SessionLogWriter(tmp_path / "ms.emolog", key, clock=ManualClock(time.time() * 1000)) as writer:  # ms
        writer.write(SESSION[0])
    assert emoplay("log", "show", tmp_path / "ms.emolog", "--key-file", tmp_path / "k.key") == EXIT_OK
    assert "not a date: the writer's clock was not in Unix seconds" in capsys.readouterr().out
    assert emoplay("log", "verify", tmp_path / "ms.emolog", "--key-file", tmp_path / "k.key") == EXIT_OK


@pytest.mark.slow
def test_show_into_a_pipe_that_closes_early_stops_quietly(tmp_path: Path) -> None:
    import subprocess
    import sys

    key = LogKey.from_bytes(bytes(32))
    (tmp_path / "k.key").write_bytes(bytes(32))
    (tmp_path / "k.key").chmod(0o600)  # no warning on stderr
    with SessionLogWriter(tmp_path / "long.emolog", key) as writer:
        for i in range(3000):
            writer.write(FaceLost(i, float(i)))
    command = [sys.executable, "-m", "emoplay.cli", "log", "show", tmp_path / "long.emolog", "--key-file",
               tmp_path / "k.key"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as child:
        assert child.stdout.readline().startswith(b"# long.emolog")
        child.stdout.close()  # as `| head -1` does
        err = child.stderr.read().decode()
        assert child.wait(timeout=60) == 1 and err == ""


def test_crashed_log_with_dropped_events_is_shown_with_what_was_lost(tmp_path: Path, capsys) -> None:
    """A log whose writer died leaving zero bytes (a crash) still shows every record, says how much was lost,
    and draws EventsDropped (no track) without a face lane."""
    from emoplay._events import EventsDropped

    key = LogKey.from_bytes(os.urandom(32))
    key_file = tmp_path / "k.key"
    key_file.write_bytes(key._secret)
    session = SESSION[:3] + [EventsDropped(17, 1003.5)] + SESSION[3:]
    writing = tmp_path / "s.writing"
    with SessionLogWriter(writing, key, include_probabilities=True) as writer:
        for event in session:
            writer.write(event)
        crashed = writing.read_bytes() + bytes(4096)  # the file as a crash left it: no final record, zero blocks
    log = tmp_path / "crashed.emolog"
    log.write_bytes(crashed)

    assert emoplay("log", "verify", log, "--key-file", key_file) == EXIT_TRUNCATED
    assert "4096 bytes after them lost" in capsys.readouterr().err
    assert emoplay("log", "show", log, "--key-file", key_file) == EXIT_TRUNCATED
    out, err = capsys.readouterr()
    assert f"showing the {len(session)} complete records; 4096 bytes after them could not be read" in err
    assert "CUT SHORT (no final record), 4096 bytes lost" in out
    assert out.splitlines()[5].split() == ["3", "1003.500", "EventsDropped", "17", "lost"]
    assert emoplay("log", "show", log, "--key-file", key_file, "--format", "csv") == EXIT_TRUNCATED
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert (rows[3]["type"], rows[3]["track_id"], rows[3]["count"]) == ("EventsDropped", "", "17")
    png = tmp_path / "timeline.png"
    assert emoplay("log", "plot", log, "--key-file", key_file, "--out", png) == EXIT_TRUNCATED
    assert png.read_bytes()[:8] == PNG_MAGIC


# -- key files and logs that are not what they claim ---------------------------------------------------------------
def emoplay_limited(*argv: str | Path) -> subprocess.CompletedProcess:
    """The real CLI in a subprocess with 1 GiB of address space: reading a file without end fails, not the machine."""
    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

    return subprocess.run([sys.executable, "-m", "emoplay.cli", *map(str, argv)], capture_output=True, text=True,
                          timeout=60, preexec_fn=limit_memory, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture
def key_and_log(tmp_path: Path) -> tuple[Path, Path]:
    key = tmp_path / "log.key"
    assert emoplay("log", "keygen", key) == EXIT_OK
    log = tmp_path / "session.emolog"
    _write_session(log, LogKey.from_file(key), started_at=time.time())
    return key, log


@pytest.mark.skipif(os.name != "posix", reason="devices, named pipes and mode bits are POSIX")
@pytest.mark.parametrize("target", ["key", "log"])
@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_device_or_a_named_pipe_is_refused_without_reading_it(key_and_log, tmp_path, target, special):
    key, log = key_and_log
    if special == "fifo":
        special = tmp_path / "pipe"
        os.mkfifo(special)  # opening it for reading would wait for a writer
    if target == "key":
        key = special
    else:
        log = special
    done = emoplay_limited("log", "show", log, "--key-file", key)
    assert done.returncode == EXIT_ERROR, done.stderr[-2000:]
    what = "key file" if target == "key" else "session log"
    assert done.stderr.strip().endswith(f"{what} {special} is not a regular file; give the path of a file")


@pytest.mark.skipif(os.name != "posix", reason="sparse files and RLIMIT_AS")
def test_a_huge_key_file_is_not_read_to_its_end(key_and_log, tmp_path):
    key, log = key_and_log
    huge = tmp_path / "huge.key"
    with open(huge, "wb") as f:
        f.truncate(4 << 30)  # 4 GiB, sparse: reading it all would need 4 GiB of memory
    huge.chmod(0o600)
    done = emoplay_limited("log", "show", log, "--key-file", huge)
    assert done.returncode == EXIT_INVALID and "is not an emoplay key file: it holds more than 32 bytes" in done.stderr


@pytest.mark.skipif(os.name != "posix", reason="mode bits are POSIX")
@pytest.mark.parametrize("mode", [0o640, 0o604], ids=["group", "others"])
def test_a_key_file_others_can_read_gets_a_warning_that_says_what_to_do(key_and_log, capsys, mode):
    key, log = key_and_log
    key.chmod(mode)
    capsys.readouterr()
    assert emoplay("log", "show", log, "--key-file", key) == EXIT_OK
    assert f"emoplay: warning: the key file {key} can be read by other users (mode {mode:o}): whoever reads it " \
           f"reads every log it opens; run `chmod 600 {key}`" in capsys.readouterr().err
    key.chmod(0o600)
    assert emoplay("log", "show", log, "--key-file", key) == EXIT_OK
    assert "warning" not in capsys.readouterr().err


def test_csv_rounds_times_to_the_millisecond_and_probabilities_to_four_places(tmp_path: Path, capsys) -> None:
    key = LogKey.from_bytes(bytes(32))
    (tmp_path / "k.key").write_bytes(bytes(32))
    frame_time = 2 / 29.97  # a video's frame time: 0.06673340006673341
    with SessionLogWriter(tmp_path / "v.emolog", key, include_probabilities=True) as writer:
        writer.write(FaceFound(1, (0, 0, 50, 50), frame_time, True))
        writer.write(EmotionChanged(1, "unknown", "happy", 0.8500000238418579, {"happy": 0.8500000238418579,
                                                                               "neutral": 0.14999997615814209},
                                    frame_time))
    assert emoplay("log", "show", tmp_path / "v.emolog", "--key-file", tmp_path / "k.key", "--format", "csv") == EXIT_OK
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [row["timestamp"] for row in rows] == ["0.067", "0.067"]
    assert (rows[1]["confidence"], rows[1]["p_happy"], rows[1]["p_neutral"]) == ("0.85", "0.85", "0.15")
    assert emoplay("log", "show", tmp_path / "v.emolog", "--key-file", tmp_path / "k.key") == EXIT_OK
    assert capsys.readouterr().out.splitlines()[2].split()[:2] == ["0", "0.067"]  # the same time in the table
