"""`emoplay serve` end to end: a real subprocess on a shared video, a real client over a real socket."""

from __future__ import annotations

import json
import os
import stat
import socket
import subprocess
import time

import pytest

from tests.support import VIDEOS, require_shared
from tests.support.bridge import assert_valid_message, serve_command, start_serve
from emoplay import EMOTIONS
from emoplay.bridge.client import BridgeClient
from emoplay.bridge.protocol import VALENCE_AROUSAL, valence_arousal
from emoplay.cli import main


@pytest.mark.slow
def test_a_paired_client_receives_the_events_of_a_video(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--wait-for-client")
    try:
        with BridgeClient.connect(served.websocket, served.token, client="test", probabilities_hz=30) as client:
            welcome = client.welcome
            messages = list(client.messages(timeout=20))
            close_code = client.close_code
        code = served.proc.wait(timeout=30)  # it stops by itself at the end of the video
    finally:
        served.stop()
    assert welcome["type"] == "welcome" and welcome["protocol"] == 1
    assert welcome["camera_state"] == "off" and welcome["faces"] == []  # --wait-for-client: nothing ran yet
    for message in [welcome, *messages]:
        assert_valid_message(message)
    kinds = [m["type"] for m in messages]
    assert "FaceFound" in kinds and "FaceLost" in kinds
    changes = [m for m in messages if m["type"] == "EmotionChanged"]
    assert [m["current"] for m in changes][-1] == "happy"  # the man smiles from about 0.8 s
    for m in changes:
        assert (m["valence"], m["arousal"]) == valence_arousal(m["probabilities"])
    assert any(m["type"] == "probabilities" for m in messages)
    assert messages[-1] == {**messages[-1], "type": "CameraStateChanged", "current": "off",
                            "reason": "end of stream"}
    assert close_code == 1001  # the server went away after the video, having sent everything
    assert code == 0
    assert "paired" in served.stderr()


@pytest.mark.slow
def test_serve_forwards_face_signals_at_the_rate_with_the_chosen_stability(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--wait-for-client", "--stability", "dialogue",
                         "--signal-hz", "5")
    try:
        with BridgeClient.connect(served.websocket, served.token, client="test",
                                  events=["FaceSignal", "EmotionChanged"]) as client:
            messages = list(client.messages(timeout=20))
        assert served.proc.wait(timeout=30) == 0
    finally:
        served.stop()
    for message in messages:
        assert_valid_message(message)
    signals = [m for m in messages if m["type"] == "FaceSignal"]
    assert 9 <= len(signals) <= 13  # 5 a second over the ~2.3 s the face is in view
    assert all((m["valence"], m["arousal"]) == valence_arousal(m["probabilities"]) for m in signals)
    assert signals[-1]["emotion"] == "happy"
    assert {m["type"] for m in messages} == {"FaceSignal", "EmotionChanged"}  # what the client asked for


@pytest.mark.slow
def test_the_first_stdout_line_is_one_json_object_with_both_urls(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--wait-for-client")
    try:
        assert served.websocket == f"ws://127.0.0.1:{served.port}/ws"
        assert served.dashboard.startswith(f"http://127.0.0.1:{served.port}/#token=")  # a token for this run only
    finally:
        served.stop()


def test_a_token_kept_in_a_file_is_never_printed(tmp_path):
    """Launchers and service journals keep stdout: with --token-file the dashboard URL has no #token=."""
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    done = subprocess.run(serve_command("--port", "0", "--source", str(video), "--token-file", str(token_file)),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    token = token_file.read_text().strip()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    info = json.loads(done.stdout.splitlines()[0])
    assert info["dashboard"] == info["websocket"].replace("ws://", "http://").replace("/ws", "/")
    assert info["token_file"] == str(token_file)
    assert token not in done.stdout and token not in done.stderr and "#token=" not in done.stdout


def test_valence_arousal_table_covers_every_emotion_within_the_unit_square():
    assert set(VALENCE_AROUSAL) == set(EMOTIONS)
    for valence, arousal in VALENCE_AROUSAL.values():
        assert -1 <= valence <= 1 and -1 <= arousal <= 1
    assert valence_arousal({"happy": 1.0}) == VALENCE_AROUSAL["happy"]
    assert valence_arousal({"happy": 0.5, "sad": 0.5}) == (0.05, 0.0)
    assert valence_arousal({}) == (0.0, 0.0)


# -- clear errors, exit code 2, no traceback (in-process, like the other CLI tests) ---------------------------
def _serve_error(capsys, *args: str) -> str:
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_port_in_use_is_a_clear_error(capsys):
    video = require_shared(VIDEOS / "single_face.mp4")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        err = _serve_error(capsys, "--source", str(video), "--wait-for-client", "--port", str(port))
    assert f"127.0.0.1:{port}" in err and "another program uses this port" in err


def test_a_token_file_others_can_read_is_refused(capsys, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    token_file.write_text("A" * 43 + "\n")
    token_file.chmod(0o644)
    err = _serve_error(capsys, "--source", str(video), "--token-file", str(token_file))
    assert "chmod 600" in err


def test_a_token_file_without_a_token_is_refused(capsys, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    token_file = tmp_path / "token"
    token_file.write_text("not a token!\n")
    token_file.chmod(0o600)
    err = _serve_error(capsys, "--source", str(video), "--token-file", str(token_file))
    assert "does not hold a token" in err and "delete it" in err


def test_a_directory_as_token_file_is_refused(capsys, tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    err = _serve_error(capsys, "--source", str(video), "--token-file", str(tmp_path))
    assert "not a regular file" in err


def test_a_host_that_is_not_loopback_needs_allow_remote(capsys):
    video = require_shared(VIDEOS / "single_face.mp4")
    err = _serve_error(capsys, "--source", str(video), "--host", "0.0.0.0")
    assert "--allow-remote" in err


@pytest.mark.parametrize("args, message", [
    (["--host", "0.0.0.0", "--allow-remote"], "say which one clients use with allowed_hosts (emoplay serve "
                                              "--allowed-host 192.168.1.20)"),
    (["--allowed-host", "192.0.2.10"], "--allowed-host goes with --allow-remote"),
])
def test_remote_access_needs_both_the_opt_in_and_the_names_clients_use(capsys, args, message):
    err = _serve_error(capsys, "--source", str(require_shared(VIDEOS / "single_face.mp4")), *args)
    assert message in err


def test_allow_remote_with_an_allowed_host_serves_clients_that_name_it(tmp_path):
    """Listening on every address of the machine; a client on another machine would name 192.0.2.10 in its Host
    header. Here it comes over loopback, which only the Host header tells apart."""
    from websockets.sync.client import connect

    from tests.support.bridge import http_request

    video = require_shared(VIDEOS / "single_face.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--wait-for-client", "--host", "0.0.0.0", "--allow-remote",
                         "--allowed-host", "192.0.2.10")
    try:
        assert served.websocket == f"ws://192.0.2.10:{served.port}/ws"
        assert served.dashboard.startswith(f"http://192.0.2.10:{served.port}/#token=")
        assert http_request(served.port, "/", {"Host": f"192.0.2.10:{served.port}"})[0] == 200
        assert http_request(served.port, "/", {"Host": f"evil.example:{served.port}"})[0] == 421
        assert http_request(served.port, "/", {"Host": f"0.0.0.0:{served.port}"})[0] == 421
        sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
        with connect(served.websocket, sock=sock, open_timeout=5, close_timeout=1,
                     origin=f"http://192.0.2.10:{served.port}") as ws:
            ws.send(json.dumps({"type": "hello", "token": served.token}))
            assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
    finally:
        served.stop()
    assert "warning: listening on 0.0.0.0, not loopback" in served.stderr()


def test_a_missing_camera_is_a_clear_error(capsys):
    err = _serve_error(capsys, "--source", "/dev/video97", "--yes")
    assert "cannot open camera" in err and "emoplay doctor" in err


@pytest.mark.slow
def test_a_camera_without_consent_does_not_open(tmp_path):
    out = subprocess.run(serve_command("--source", "/dev/video97", "--port", "0"), capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    assert out.returncode == 2 and "consent" in out.stderr and out.stdout == ""


@pytest.mark.parametrize("imports, absent", [
    ("import emoplay, emoplay.cli; emoplay.cli.build_parser()", ("websockets", "pythonosc", "asyncio")),
    ("import emoplay.bridge, emoplay.cli.serve", ("websockets", "pythonosc")),
])
def test_importing_emoplay_and_the_bridge_loads_no_network_library(imports, absent):
    code = f"import json, sys; {imports}; print(json.dumps([m for m in {absent!r} if m in sys.modules]))"
    out = subprocess.run([os.sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


@pytest.mark.slow
def test_capture_runs_only_while_a_client_shows_the_indicator(tmp_path):
    video = require_shared(VIDEOS / "talking_smiling.mp4")
    served = start_serve(tmp_path, "--source", str(video), "--realtime", "--loop", "--require-indicator")
    try:
        with BridgeClient.connect(served.websocket, served.token, events=["CameraStateChanged"]) as client:
            first = _next_state(client, lambda m: m["current"] == "paused")  # nobody shows the indicator
            assert "indicator not drawn" in first["reason"]
            deadline = time.monotonic() + 15
            resumed = None
            while resumed is None and time.monotonic() < deadline:
                client.send({"type": "indicator"})  # as the dashboard does while it is visible
                message = client.receive(timeout=0.2)
                if message and message["current"] == "capturing":
                    resumed = message
            assert resumed is not None
            again = _next_state(client, lambda m: m["current"] == "paused")  # heartbeats stopped
            assert "indicator not drawn" in again["reason"]
    finally:
        served.stop()


def _next_state(client, done, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.receive(timeout=1)
        if message is not None and done(message):
            return message
    raise AssertionError("no such camera state change")


def test_a_sensor_failure_right_after_a_poll_still_ends_serve_with_exit_code_1(tmp_path, capsys):
    """The worker fails between the serve loop's poll() and its state check: forced here by a publish() that
    returns only once the sensor is in its error state (the timing that used to end with exit code 0)."""
    import argparse
    import threading

    from tests.support.mp4 import index_first

    from emoplay import Sensor
    from emoplay.cli.serve import _run
    from emoplay.bridge.server import BridgeOptions, BridgeServer

    data = index_first(require_shared(VIDEOS / "single_face.mp4"))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])  # decodes about 40 frames, then fails
    with Sensor(source=str(cut)) as sensor:

        class PublishUntilTheSensorFailed(BridgeServer):
            waited = False

            def publish(self, events):
                super().publish(events)
                if not self.waited:
                    self.waited = True
                    deadline = time.monotonic() + 60
                    while sensor.camera_state.value != "error" and time.monotonic() < deadline:
                        time.sleep(0.01)
                    assert sensor.camera_state.value == "error", "the cut video did not fail the sensor"

        with PublishUntilTheSensorFailed("t" * 43, BridgeOptions()) as server:
            sensor.start()
            status = _run(sensor, server, [], argparse.Namespace(max_seconds=0, wait_for_client=False),
                          threading.Event())
    assert server.waited
    assert status == 1
    assert "emoplay: the emoplay worker stopped: " in capsys.readouterr().err


def test_serve_into_a_closed_pipe_says_so_and_serves_nothing():
    """`emoplay serve | true`: the reader is gone before the URLs are printed."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(serve_command("--port", "0", "--source", str(require_shared(VIDEOS / "single_face.mp4"))),
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert "stdout was closed before the URLs could be printed" in done.stderr and "nothing was served" in done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
