"""The Unity package's client core (clients/unity/Runtime/Core), compiled with Mono's mcs and run under mono against
a real `emoplay serve` on a video: pairing, typed events, the indicator heartbeat, refusal, reconnection, the launcher.

The probe (unity/ClientProbe.cs) plays the game: it calls IndicatorDrawn() and DispatchPending() every 16 ms and
prints one "UNITY ..." line per event. The MonoBehaviour wrappers need UnityEngine and are not compiled here.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.bridge import serve_command, start_serve, wait_until_ended
from tests.support import REPO, VIDEOS, require, require_shared
from emoplay.bridge.token import load_or_create_token

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each

CORE = REPO / "clients" / "unity" / "Runtime" / "Core"
PROBE = Path(__file__).parent / "unity" / "ClientProbe.cs"


@pytest.fixture(scope="module")
def probe(tmp_path_factory) -> Path:
    mcs, mono = shutil.which("mcs"), shutil.which("mono")
    require(mcs is not None and mono is not None, "Mono is not installed: apt-get install -y mono-mcs mono-devel")
    exe = tmp_path_factory.mktemp("unity") / "probe.exe"
    # -warnaserror: the package must compile cleanly; C# 7 is what Unity 2019.4+ accepts.
    built = subprocess.run([mcs, "-langversion:7", "-warnaserror", f"-out:{exe}", *map(str, sorted(CORE.glob("*.cs"))),
                            str(PROBE)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    return exe


def _start_probe(probe: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(["mono", str(probe), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _lines(output: str) -> list[str]:
    return [line.split(" ", 1)[1] for line in output.splitlines() if line.startswith("UNITY ")]


def _read_until(proc: subprocess.Popen, prefix: str, timeout: float, seen: list[str]) -> str:
    """Read the probe's lines into ``seen`` until one starts with ``prefix``; that line."""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sel.select(max(0.0, deadline - time.monotonic())):
                break
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("UNITY "):
                seen.append(line.split(" ", 1)[1].rstrip("\n"))
                if seen[-1].startswith(prefix):
                    return seen[-1]
    finally:
        sel.close()
    raise AssertionError(f"the Unity probe printed no {prefix!r} line; it printed: {seen}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _finish(proc: subprocess.Popen, timeout: float = 60) -> str:
    try:
        output, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return output


def test_the_unity_client_reconnects_pairs_and_receives_typed_events_while_it_shows_the_indicator(probe, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    load_or_create_token(token_file)
    port = _free_port()
    client = _start_probe(probe, "--url", f"ws://127.0.0.1:{port}/ws", "--token-file", str(token_file), "--timeout", "120")
    try:
        time.sleep(1.0)  # the client fails to connect and backs off meanwhile
        # --require-indicator: the video plays only while a client sends the indicator heartbeat.
        serve = subprocess.run(serve_command("--source", str(video), "--realtime", "--port", str(port), "--token-file",
                                             str(token_file), "--wait-for-client", "--require-indicator",
                                             "--signal-hz", "2"),
                               capture_output=True, text=True, timeout=120)
    finally:
        output = _finish(client)
    lines = _lines(output)
    assert serve.returncode == 0, serve.stderr[-2000:]
    assert client.returncode == 0, output[-3000:]
    assert lines[:2] == ["reconnecting 0.25", "reconnecting 0.50"]
    assert any(line.startswith("connected protocol=1 camera=off source=") for line in lines)
    assert any(line.startswith("face_found 1 True box_w=") for line in lines)
    assert "primary  1" in lines  # PrimaryFaceChanged: from none to face 1
    emotions = [line.split() for line in lines if line.startswith("emotion_changed")]
    assert emotions and emotions[-1][1:3] == ["1", "happy"] and 0.5 < float(emotions[-1][3]) <= 1
    assert float(emotions[-1][4].split("=")[1]) > 0.3 and emotions[-1][5] == f"p_happy={emotions[-1][3]}"
    assert "other FaceSignal" in lines  # a type the typed API does not cover still reaches MessageReceived
    assert "face_lost 1" in lines and "camera off end of stream" in lines
    assert "disconnected 1001 emoplay serve is stopping retry=True" in lines
    assert "client 'unity-probe' paired" in serve.stderr


def test_a_wrong_token_is_refused_and_not_retried(probe, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--realtime", "--loop", "--token-file", str(tmp_path / "token"))
    wrong = tmp_path / "wrong"
    load_or_create_token(wrong)
    try:
        client = _start_probe(probe, "--url", served.websocket, "--token-file", str(wrong), "--timeout", "30")
        output = _finish(client)
    finally:
        served.stop()
    lines = _lines(output)
    assert client.returncode == 5, output[-3000:]
    reason = "wrong token: read it from the token file emoplay serve was given"
    assert lines[:3] == [f"error unauthorized {reason}", f"disconnected 4001 {reason} retry=False", f"refused {reason}"]
    assert not any(line.startswith(("connected", "reconnecting")) for line in lines)
    assert "refused a client with a wrong token" in served.stderr()


def test_the_client_reconnects_after_the_server_restarts(probe, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    args = ("--source", str(video), "--realtime", "--loop", "--token-file", str(token_file))
    first = start_serve(tmp_path, *args)
    port = first.port
    client = _start_probe(probe, "--url", first.websocket, "--token-file", str(token_file), "--disconnects", "2",
                          "--timeout", "150")
    seen: list[str] = []
    try:
        _read_until(client, "connected", 60, seen)
        assert first.stop() == 0
        _read_until(client, "reconnecting", 30, seen)
        second = start_serve(tmp_path, *args, port=port)
        try:
            _read_until(client, "connected", 90, seen)
            _read_until(client, "emotion_changed", 60, seen)
        finally:
            assert second.stop() == 0
        output = _finish(client)
    finally:
        first.stop()
        if client.poll() is None:
            client.kill()
            client.communicate()
    lines = seen + _lines(output)
    assert client.returncode == 0, lines
    assert sum(line.startswith("connected") for line in lines) == 2
    assert lines.count("disconnected 1001 emoplay serve is stopping retry=True") == 2
    first_reconnect = lines.index("disconnected 1001 emoplay serve is stopping retry=True") + 1
    assert lines[first_reconnect] == "reconnecting 0.25"  # back-off starts over after a paired connection


def test_the_launcher_starts_the_server_pairs_and_stops_it_cleanly(probe, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    client = _start_probe(probe, "--launch-token-file", str(token_file), "--timeout", "90", "--",
                          *serve_command("--source", str(video), "--realtime", "--loop"))
    output = _finish(client, 150)
    lines = _lines(output)
    assert client.returncode == 0, output[-3000:]
    assert lines[0].startswith("launched pid=") and f"token_file={token_file}" in lines[0]
    assert any(line.startswith("connected protocol=1") for line in lines)
    assert any(line.startswith("emotion_changed 1 ") for line in lines)
    assert lines[-1] == "server_stopped clean=True exit=0"  # SIGTERM: a clean exit, no kill needed


def test_a_server_the_launcher_started_ends_when_the_game_is_killed(probe, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    client = _start_probe(probe, "--launch-token-file", str(tmp_path / "token"), "--hang", "--timeout", "90", "--",
                          *serve_command("--source", str(video), "--realtime", "--loop"))
    seen: list[str] = []
    server_pid = None
    try:
        server_pid = int(_read_until(client, "launched pid=", 90, seen).split()[1].split("=")[1])
        _read_until(client, "hanging", 90, seen)  # paired and receiving
        client.send_signal(signal.SIGKILL)  # a crash: no chance to stop the server
        client.wait(10)
        assert wait_until_ended(server_pid, 10), "the server kept running after the game was killed"
    finally:
        _finish(client, 5)
        if server_pid is not None and not wait_until_ended(server_pid, 0):
            os.kill(server_pid, signal.SIGKILL)


def test_the_package_has_its_manifest_assembly_definitions_and_a_meta_file_for_every_asset():
    """Unity ignores a file without a .meta in a package installed from git (read-only): each one ships its own."""
    import json

    package = REPO / "clients" / "unity"
    manifest = json.loads((package / "package.json").read_text())
    assert manifest["name"] == "dev.emoplay.client" and manifest["unity"]
    for sample in manifest["samples"]:
        assert (package / sample["path"]).is_dir()
    core = json.loads((CORE / "Emoplay.Core.asmdef").read_text())
    assert core["noEngineReferences"] is True and core["references"] == []
    runtime = json.loads((package / "Runtime" / "Emoplay.Runtime.asmdef").read_text())
    assert runtime["references"] == ["Emoplay.Core"]
    assets = [p for p in package.rglob("*") if p.suffix != ".meta" and not any(part.endswith("~") for part in
                                                                                 p.relative_to(package).parts)]
    missing = [str(p.relative_to(package)) for p in assets if not p.with_name(p.name + ".meta").exists()]
    assert not missing, f"no .meta for {missing}"
    guids = [line.split()[1] for meta in package.rglob("*.meta") for line in meta.read_text().splitlines()
             if line.startswith("guid:")]
    assert len(guids) == len(set(guids)) == len(assets)
    assert not any("using UnityEngine" in p.read_text() for p in CORE.glob("*.cs"))
