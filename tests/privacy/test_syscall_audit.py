"""Provably offline, checked by the kernel: real sessions under ``strace -f``.

Every session here must open no network socket, connect nowhere, resolve no name, run no other
program and write nothing but the opted-in log (see syscall_audit.py for the exact rules). The
audit-hook test in test_privacy.py sees Python-level I/O; this one also sees native code, where
mediapipe 1.x's telemetry uploader lived. CI installs strace (.ci/run); without it these tests
skip locally and fail in CI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

import emoplay
import emoplay.sessionlog
from tests.support import REPO, require, require_shared
from tests.support.syscall_audit import parse, run_traced, strace_path, trace_loopback_server, violations

pytestmark = pytest.mark.slow  # whole sessions under strace

# The console script a user runs, from the same environment as the tests.
_SCRIPT = Path(sys.executable).with_name("emoplay")
EMOPLAY = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "import sys; from emoplay.cli import main; sys.exit(main())"]


@pytest.fixture
def traced():
    require(strace_path() is not None, "strace is not installed (apt-get install strace)")
    return run_traced


@pytest.fixture
def workdir(tmp_path) -> Path:
    work = tmp_path / "session"
    work.mkdir()
    return work


def assert_clean(trace, what: str) -> None:
    assert trace.returncode == 0, f"{what} failed: {trace.stderr[-1500:]}"
    assert any(c.call in ("open", "openat") for c in trace.calls), "the trace saw no file opens: strace did not work"
    assert trace.violations == [], f"{what}:\n" + "\n".join(trace.violations[:20])


def new_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- the auditor itself can fail ---------------------------------------------------------------------------------
def test_the_auditor_flags_a_name_lookup_a_socket_a_program_and_a_write(traced, workdir):
    probe = ("import socket, subprocess, sys\n"
             "try: socket.getaddrinfo('telemetry.example.invalid', 443)\n"
             "except OSError: pass\n"
             "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).close()\n"
             "open('stray.txt', 'w').close()\n"
             "subprocess.run([sys.executable, '-c', 'pass'])\n")
    trace = traced([sys.executable, "-c", probe], workdir)
    assert trace.returncode == 0, trace.stderr
    kinds = {v.split(":")[0] for v in trace.violations}
    assert {"network socket", "opens for writing", "runs another program"} <= kinds, trace.violations
    assert "name-service lookup" in kinds or "connect" in kinds, trace.violations


def test_the_parser_joins_interrupted_calls_and_reads_real_strace_lines(tmp_path):
    text = "\n".join([
        '10 execve("/usr/bin/python3", ["python3"], 0x7ffd /* 3 vars */) = 0',
        '11 openat(AT_FDCWD, "/etc/resolv.conf", O_RDONLY|O_CLOEXEC <unfinished ...>',
        '12 socket(AF_UNIX, SOCK_STREAM|SOCK_CLOEXEC, 0) = 5',
        '11 <... openat resumed>) = 5',
        '12 connect(5, {sa_family=AF_UNIX, sun_path="/var/run/nscd/socket"}, 110) = -1 ENOENT (No such file)',
        '12 --- SIGPROF {si_signo=SIGPROF} ---',
        '13 openat(AT_FDCWD, "/proc/self/task/13/comm", O_RDWR) = 6',
        '13 openat(AT_FDCWD, "s.emolog", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 7',
        '13 openat(AT_FDCWD, "other.bin", O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0666) = 8',
        '13 openat(AT_FDCWD, "token", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = -1 EEXIST (File exists)',
        '13 unlinkat(AT_FDCWD, "/tmp/x", 0) = 0',
        '13 execve("/bin/sh", ["sh"], 0x7ffd /* 3 vars */) = -1 ENOENT (No such file)',
    ])
    calls = parse(text)
    assert [c.call for c in calls] == ["execve", "socket", "openat", "connect", "openat", "openat", "openat",
                                       "openat", "unlinkat", "execve"]
    found = violations(calls, tmp_path, {str(tmp_path / "s.emolog")})
    assert [v.split(":")[0] for v in found] == ["name-service lookup", "connect", "opens for writing",
                                                "changes the file system", "runs another program"]
    assert "other.bin" in found[2] and "/tmp/x" in found[3]


# -- real sessions --------------------------------------------------------------------------------------------------
def test_watch_on_a_video_is_offline_and_writes_nothing(traced, workdir):
    video = require_shared("data/videos/single_face.mp4")
    trace = traced([*EMOPLAY, "watch", "--source", str(video), "--json"], workdir)
    assert_clean(trace, "emoplay watch")
    assert '"EmotionChanged"' in trace.stdout or "EmotionChanged" in trace.stdout
    assert new_files(workdir) == []


def test_watch_with_a_log_writes_only_the_log(traced, workdir, tmp_path):
    video = require_shared("data/videos/single_face.mp4")
    key = tmp_path / "session.key"
    emoplay.sessionlog.generate_key_file(key)
    log = workdir / "session.emolog"
    trace = traced([*EMOPLAY, "watch", "--source", str(video), "--json", "--log", str(log), "--key-file", str(key)],
                   workdir, allowed_writes={str(log)})
    assert_clean(trace, "emoplay watch --log")
    assert new_files(workdir) == ["session.emolog"]
    assert emoplay.sessionlog.read_session_log(log, emoplay.sessionlog.LogKey.from_file(key)).records


def test_eval_detect_on_a_folder_is_offline_and_writes_nothing(traced, workdir, tmp_path):
    import cv2

    with np.load(require_shared("data/fer2013/val.npz")) as d:
        images, labels, classes = d["images"][:14], d["labels"][:14], [str(c) for c in d["classes"]]
    folder = tmp_path / "frames"
    for i, (image, label) in enumerate(zip(images, labels)):
        (folder / classes[label]).mkdir(parents=True, exist_ok=True)
        big = cv2.resize(image, (240, 240), interpolation=cv2.INTER_CUBIC)
        cv2.imwrite(str(folder / classes[label] / f"{i:03d}.png"), cv2.copyMakeBorder(big, 120, 120, 200, 200,
                                                                                      cv2.BORDER_REPLICATE))
    trace = traced([*EMOPLAY, "eval", "--data", str(folder), "--faces", "detect", "--json"], workdir)
    assert_clean(trace, "emoplay eval --faces detect")
    assert '"accuracy"' in trace.stdout
    assert new_files(workdir) == []


def test_doctor_is_offline_and_writes_nothing(traced, workdir):
    trace = traced([*EMOPLAY, "doctor"], workdir)
    assert_clean(trace, "emoplay doctor")
    assert new_files(workdir) == []


def test_the_example_game_on_a_video_is_offline_and_writes_nothing(traced, workdir):
    video = require_shared("data/videos/single_face.mp4")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYTHONPATH": str(REPO),
           "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    trace = traced([sys.executable, "-m", "examples.game_demo", "--source", str(video), "--mute",
                    "--max-frames", "240", "--script", "enter"], workdir, env=env)
    assert_clean(trace, "the example game")
    assert new_files(workdir) == []


def test_explain_writes_only_into_its_out_folder(traced, workdir, tmp_path):
    import cv2

    with np.load(require_shared("data/fer2013/val.npz")) as d:
        face = d["images"][0]
    image = tmp_path / "face.png"
    cv2.imwrite(str(image), face)
    out = workdir / "explained"
    trace = traced([*EMOPLAY, "explain", str(image), "--out", str(out)], workdir,
                   allowed_writes={str(out)} | {str(out / "face.png"), str(out / "face_0.png")})
    written = new_files(workdir)
    assert trace.returncode == 0, trace.stderr[-1500:]
    # Whatever names explain chose, everything it wrote is inside --out; nothing else anywhere.
    assert written and all(name == "explained" or name.startswith("explained/") for name in written), written
    allowed = {str(out)} | {str(workdir / name) for name in written}
    assert violations(trace.calls, workdir, allowed) == []


def test_serve_listens_on_loopback_only_and_connects_nowhere(traced, workdir, tmp_path):
    import socket

    video = require_shared("data/videos/single_face.mp4")
    token_file = tmp_path / "token"
    token_file.write_text("audit-token-" + "x" * 32 + "\n")
    token_file.chmod(0o600)
    with socket.socket() as probe:  # a free port, handed to serve (serve then binds it itself)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [*EMOPLAY, "serve", "--source", str(video), "--port", str(port), "--token-file", str(token_file),
               "--yes", "--wait-for-client", "--max-seconds", "20"]
    trace, received = trace_loopback_server(command, workdir, f"ws://127.0.0.1:{port}/ws",
                                            token_file.read_text().strip(), timeout=20)
    assert "EmotionChanged" in received, received
    assert any(c.call == "bind" for c in trace.calls), "the trace saw no bind: the server was not traced"
    assert trace.violations == [], "\n".join(trace.violations[:20])
    assert new_files(workdir) == []
