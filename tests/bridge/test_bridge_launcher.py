"""The launcher contract: an engine starts `emoplay serve --parent-pid ITS_PID --port 0` and reads the first line;
the server stops by itself when that engine ends, however it ends (here: SIGKILL, as a crash would)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.bridge import STARTUP_TIMEOUT_S, _read_line, idle_process, serve_command, start_serve, wait_until_ended
from tests.support import VIDEOS, require_shared
from emoplay.bridge.client import BridgeClient
from emoplay.bridge.parent import ParentWatch, process_alive
from emoplay.cli import main

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

# A stand-in for a game: starts the server with its own id as --parent-pid, passes the first line on, then idles.
_LAUNCHER = """
import os, subprocess, sys, time
serve = subprocess.Popen([*sys.argv[1:], "--parent-pid", str(os.getpid())], stdout=subprocess.PIPE,
                         stderr=open(os.environ["SERVE_STDERR"], "wb"))
print(serve.pid, serve.stdout.readline().decode().strip(), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc to follow an orphaned process")
def test_serve_stops_cleanly_when_the_game_that_started_it_is_killed(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    stderr_path = tmp_path / "serve.stderr"
    game = subprocess.Popen([sys.executable, "-c", _LAUNCHER,
                             *serve_command("--source", str(video), "--realtime", "--loop", "--port", "0",
                                            "--token-file", str(token_file))],
                            stdout=subprocess.PIPE, env={**os.environ, "SERVE_STDERR": str(stderr_path)})
    serve_pid = None
    try:
        line = _read_line(game, STARTUP_TIMEOUT_S)
        assert line, stderr_path.read_text()[-2000:]
        pid_text, first_line = line.split(" ", 1)
        serve_pid = int(pid_text)
        info = json.loads(first_line)
        assert info["token_file"] == str(token_file)  # absolute: the engine reads the token from there
        with BridgeClient.connect(info["websocket"], token_file.read_text().strip(), client="launcher test") as client:
            assert client.welcome["type"] == "welcome"
            game.send_signal(signal.SIGKILL)
            game.wait(10)
            list(client.messages(timeout=10))  # until the server closes the connection
            close_code = client.close_code
        assert wait_until_ended(serve_pid, 10), "emoplay serve kept running after its parent was killed"
    finally:
        if game.poll() is None:
            game.kill()
            game.wait()
        game.stdout.close()
        if serve_pid is not None and not wait_until_ended(serve_pid, 0):
            os.kill(serve_pid, signal.SIGKILL)
    assert close_code == 1001  # a clean shutdown: clients told "going away", the source released
    assert f"parent process {game.pid} has ended: stopping" in stderr_path.read_text()


def test_serve_stops_when_a_process_it_was_told_to_follow_ends(tmp_path):
    """--parent-pid need not be the direct parent (a launcher script may start the server for the game)."""
    video = require_shared(VIDEOS / "single_face.mp4")
    with idle_process() as host:
        served = start_serve(tmp_path, "--source", str(video), "--realtime", "--loop", "--parent-pid", str(host.pid))
        try:
            host.kill()
            host.wait()
            started = time.monotonic()
            code = served.proc.wait(timeout=15)
            waited = time.monotonic() - started
        finally:
            served.stop()
    assert code == 0
    assert waited < 5, f"took {waited:.1f} s to notice"  # polled every 0.5 s; generous on a busy machine
    assert f"parent process {host.pid} has ended" in served.stderr()


def test_a_parent_pid_that_is_not_running_is_a_clear_error(capsys):
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(done.stdout)  # ended and reaped: no such process now (unless the id was reused at once)
    if process_alive(pid):
        pytest.skip(f"process id {pid} was reused already")
    assert main(["serve", "--source", "no-such-video.mp4", "--port", "0", "--parent-pid", str(pid)]) == 2
    err = capsys.readouterr().err
    assert f"--parent-pid {pid}: no such process" in err and "Traceback" not in err


def test_the_watch_checks_at_its_interval_and_stays_gone():
    from emoplay._clock import ManualClock

    clock = ManualClock()
    with idle_process() as host:
        watch = ParentWatch(host.pid, interval_s=0.5, clock=clock)
        assert not watch.gone()
        host.kill()
        host.wait()
        clock.advance(0.4)
        assert not watch.gone()  # not checked yet: at most every interval
        clock.advance(0.1)
        assert watch.gone()
        assert watch.gone()
    with pytest.raises(ValueError, match="must be a process id > 0"):
        ParentWatch(0)
