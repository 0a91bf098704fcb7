"""The Godot 3 addon (examples/godot), headless (godot3-server), against a real `emoplay serve` on a video.

Godot starts first, so the addon's reconnect backoff runs before the server is up; it then pairs with the
token from the token file and prints a line per signal, which this test reads.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading

import pytest

from tests.support import REPO, VIDEOS, require, require_shared
from tests.support.bridge import serve_command, wait_until_ended
from emoplay.bridge.token import load_or_create_token

GODOT = shutil.which("godot3-server")
PROJECT = REPO / "examples" / "godot"


@pytest.fixture
def godot(tmp_path):
    """Starts the headless engine on a copy of examples/godot: ``godot(*args, env=...)`` is the process."""
    require(GODOT is not None, "Godot 3 (headless) is not installed: apt-get install -y godot3-server")
    project = tmp_path / "project"
    shutil.copytree(PROJECT, project)  # Godot writes caches into its project folder: not into the repo
    (tmp_path / "data").mkdir()

    def start(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        return subprocess.Popen([GODOT, "--path", str(project), *args], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
                                     **(env or {})})

    return start


class _Lines:
    """A process's output, read line by line on a thread, so that a test can wait for a line while it runs."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._lines: list[str] = []
        self._added = threading.Condition()
        self._reader = threading.Thread(target=self._read, args=(process.stdout,), daemon=True)
        self._reader.start()

    def _read(self, stream) -> None:
        with stream:  # closed at the end of the output, when the process has ended
            for line in stream:
                with self._added:
                    self._lines.append(line)
                    self._added.notify_all()

    def wait_for(self, line: str, timeout: float) -> bool:
        """True once ``line`` was printed; False if it was not within ``timeout`` seconds."""
        with self._added:
            return self._added.wait_for(lambda: line + "\n" in self._lines, timeout)

    def text(self, timeout: float = 0.0) -> str:
        """Everything printed so far; after the process ended, everything (waits up to ``timeout`` for the end)."""
        self._reader.join(timeout)
        with self._added:
            return "".join(self._lines)


def _script_errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if "SCRIPT ERROR" in line or "Parse Error" in line]


def test_the_godot_addon_reconnects_pairs_and_receives_emotion_events(godot, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    load_or_create_token(token_file)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    engine = godot("res://test/headless_test.tscn",
                   env={"EMOPLAY_URL": f"ws://127.0.0.1:{port}/ws", "EMOPLAY_TOKEN_FILE": str(token_file)})
    lines_read = _Lines(engine)
    try:
        # the addon failed to connect twice and backs off: only now does the server start
        assert lines_read.wait_for("EMOPLAY_TEST reconnecting 0.50", 60), lines_read.text()[-3000:]
        serve = subprocess.run(serve_command("--source", str(video), "--port", str(port), "--token-file",
                                             str(token_file), "--wait-for-client"),
                               capture_output=True, text=True, timeout=120)
        engine.wait(60)
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.wait()
    output = lines_read.text(timeout=10)
    lines = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("EMOPLAY_TEST ")]
    assert serve.returncode == 0, serve.stderr[-2000:]
    assert engine.returncode == 0, output[-3000:]
    assert not _script_errors(output)
    assert "reconnecting 0.25" in lines and "reconnecting 0.50" in lines
    connected = next(line for line in lines if line.startswith("connected"))
    assert "protocol=1" in connected
    assert "face_found 1 True" in lines
    emotions = [line.split() for line in lines if line.startswith("emotion_changed")]
    assert emotions and emotions[-1][1:3] == ["1", "happy"] and 0.5 < float(emotions[-1][3]) <= 1
    assert any(line.startswith("valence_arousal 1 0.") for line in lines)
    assert "face_lost 1" in lines and "camera_state_changed off end of stream" in lines
    assert "disconnected 1001 emoplay serve is stopping" in lines
    assert "client 'godot-headless-test' paired" in serve.stderr


def test_the_demo_scene_loads_without_script_errors(godot):
    engine = godot("--quit", env={"EMOPLAY_URL": "ws://127.0.0.1:9/ws"})
    output, _ = engine.communicate(timeout=60)
    assert engine.returncode == 0 and not _script_errors(output), output[-3000:]


def test_the_addon_drops_a_stale_indicator_request_and_honours_a_disconnect_from_its_handler(godot):
    """examples/godot/test/addon_unit_test.gd: an indicator asked for before a (re)connection is not sent after its
    welcome (the indicator may be gone by then), and disconnect_from_bridge() in a `disconnected` handler is final."""
    engine = godot("-s", "res://test/addon_unit_test.gd")
    output, _ = engine.communicate(timeout=60)
    checks = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("EMOPLAY_UNIT ")]
    assert checks == ["stale_indicator ok", "disconnect_in_handler ok"], output[-3000:]
    assert engine.returncode == 0 and not _script_errors(output), output[-3000:]


def test_the_addon_starts_the_server_and_the_server_ends_with_the_game(godot, tmp_path):
    """Emoplay.start_server (here through EMOPLAY_SERVER): a free port, the token file in user://, --parent-pid; the
    game quits at its first emotion change without stopping the server, which must notice and stop by itself.
    The server is EMOPLAY_SERVER_EXE (the self-contained build) when given, else this Python's `emoplay serve`."""
    video = require_shared(VIDEOS / "single_face.mp4")
    exe = os.environ.get("EMOPLAY_SERVER_EXE")
    program, *args = [exe] if exe else serve_command()
    engine = godot("res://test/headless_test.tscn",
                   env={"EMOPLAY_SERVER": program,
                        "EMOPLAY_SERVER_ARGS": " ".join([*args, "--source", str(video), "--realtime", "--loop"]),
                        "EMOPLAY_TEST_QUIT_AFTER_EMOTION": "1"})
    server_pid = None
    try:
        output, _ = engine.communicate(timeout=120)
        lines = [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("EMOPLAY_TEST ")]
        launched = next((line for line in lines if line.startswith("launched pid=")), None)
        assert launched, output[-3000:]
        server_pid = int(launched.split()[1].split("=")[1])
        assert wait_until_ended(server_pid, 10), "the server kept running after the game quit"
    finally:
        if engine.poll() is None:
            engine.kill()
            engine.communicate()
        if server_pid is not None and not wait_until_ended(server_pid, 0):
            os.kill(server_pid, 9)
    assert engine.returncode == 0 and not _script_errors(output), output[-3000:]
    port = launched.split("ws://127.0.0.1:")[1].split("/")[0]
    assert launched.endswith(f"ws://127.0.0.1:{port}/ws") and int(port) >= 49152
    assert any(line.startswith("connected protocol=1") for line in lines)
    quitting = lines.index("quitting")  # quit() takes effect at the end of the frame: more may follow
    assert lines[quitting - 1].startswith("emotion_changed 1 ")
    token_file = tmp_path / "data" / "godot" / "app_userdata" / "emoplay Godot demo" / "emoplay-token"
    assert token_file.exists() and (token_file.stat().st_mode & 0o077) == 0
