"""The self-contained server (packaging/build_server.py, PyInstaller): built once into build/server (ignored, kept
between runs), then run as an engine runs it, with no Python of ours: it pairs, streams a video's events, refuses
what the bridge refuses, stays offline under strace, and stops on SIGTERM and when its parent dies.

Not in the default run (the build takes minutes): ``pytest -m build tests/bridge/test_bridge_executable.py``.
``EMOPLAY_SERVER_EXE`` names an executable built already (then nothing is built).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.support.bridge import http_request, idle_process, start_serve
from tests.support import REPO, VIDEOS, require, require_shared
from emoplay.bridge.client import BridgeClient

pytestmark = pytest.mark.build


@pytest.fixture(scope="module")
def server_exe() -> Path:
    given = os.environ.get("EMOPLAY_SERVER_EXE")
    if given:
        return Path(given).resolve()
    sys.path.insert(0, str(REPO / "packaging"))
    try:
        from build_server import NAME, build
    finally:
        sys.path.pop(0)
    out = REPO / "build" / "server"
    exe = out / "dist" / NAME / NAME
    return exe if exe.exists() else build(out)


def _env_without_python() -> dict[str, str]:
    """No PYTHONPATH, no virtual environment on PATH: the executable must carry everything itself."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}


def test_the_executable_pairs_and_streams_the_events_of_a_video(server_exe, tmp_path, monkeypatch):
    video = require_shared(VIDEOS / "single_face.mp4")
    monkeypatch.setattr(os, "environ", _env_without_python())
    served = start_serve(tmp_path, "--source", str(video), "--wait-for-client", command=[str(server_exe)])
    try:
        with BridgeClient.connect(served.websocket, served.token, client="exe test") as client:
            welcome = client.welcome
            messages = list(client.messages(timeout=30))
            close_code = client.close_code
        code = served.proc.wait(timeout=30)
    finally:
        served.stop()
    assert welcome["protocol"] == 1
    changes = [m for m in messages if m["type"] == "EmotionChanged"]
    assert changes and changes[-1]["current"] == "happy"
    assert {"FaceFound", "FaceLost"} <= {m["type"] for m in messages}
    assert close_code == 1001 and code == 0


def test_the_executable_refuses_a_wrong_host_a_foreign_origin_and_a_wrong_token(server_exe, tmp_path):
    from emoplay import BridgeError

    video = require_shared(VIDEOS / "single_face.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--realtime", "--loop", command=[str(server_exe)])
    try:
        assert http_request(served.port, "/ws", {"Host": f"evil.example:{served.port}"}, upgrade=True)[0] == 421
        assert http_request(served.port, "/ws", {"Origin": "http://evil.example"}, upgrade=True)[0] == 403
        with pytest.raises(BridgeError, match="wrong token"):
            BridgeClient.connect(served.websocket, "x" * 43)
        sigterm_started = time.monotonic()
        served.proc.send_signal(signal.SIGTERM)
        assert served.proc.wait(timeout=15) == 0
        print(f"stopped {time.monotonic() - sigterm_started:.2f} s after SIGTERM")
    finally:
        served.stop()


def test_the_executable_stops_when_its_parent_dies(server_exe, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    with idle_process() as host:
        started = time.monotonic()
        served = start_serve(tmp_path, "--source", str(video), "--realtime", "--loop", "--parent-pid", str(host.pid),
                             command=[str(server_exe)])
        print(f"first line {time.monotonic() - started:.2f} s after start")
        try:
            host.kill()
            host.wait()
            assert served.proc.wait(timeout=15) == 0
        finally:
            served.stop()
    assert f"parent process {host.pid} has ended" in served.stderr()


def test_the_executable_listens_on_loopback_only_connects_nowhere_and_writes_nothing(server_exe, tmp_path):
    import socket

    from tests.support.syscall_audit import strace_path, trace_loopback_server

    require(strace_path() is not None, "strace is not installed (apt-get install strace)")
    video = require_shared(VIDEOS / "single_face.mp4")
    workdir = tmp_path / "session"
    workdir.mkdir()
    token_file = tmp_path / "token"
    token_file.write_text("audit-token-" + "x" * 32 + "\n")
    token_file.chmod(0o600)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [str(server_exe), "--source", str(video), "--port", str(port), "--token-file", str(token_file),
               "--wait-for-client", "--max-seconds", "30"]
    trace, received = trace_loopback_server(command, workdir, f"ws://127.0.0.1:{port}/ws",
                                            token_file.read_text().strip())
    assert "EmotionChanged" in received, received
    assert any(c.call == "bind" for c in trace.calls), "the trace saw no bind: the server was not traced"
    # PyInstaller's bootloader starts the same executable once more (to set up its library path): not another program.
    itself = f'runs another program: execve("{server_exe}", '
    violations = [v for v in trace.violations if not v.startswith(itself)]
    assert len(trace.violations) - len(violations) <= 1
    assert violations == [], "\n".join(violations[:20])
    assert list(workdir.iterdir()) == []
