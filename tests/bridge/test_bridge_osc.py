"""OSC out: `emoplay serve --osc` on a shared video, received by a real python-osc UDP server in the test."""

from __future__ import annotations

import pytest

from tests.support import VIDEOS, require_shared
from tests.support.bridge import osc_receiver, start_serve
from emoplay import EMOTIONS
from emoplay.bridge.client import BridgeClient


@pytest.mark.slow
def test_serve_sends_emotions_probabilities_valence_arousal_and_faces_over_osc(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    with osc_receiver() as (port, received):
        served = start_serve(tmp_path, "--source", str(video), "--wait-for-client", "--osc", f"127.0.0.1:{port}")
        try:
            with BridgeClient.connect(served.websocket, served.token) as client:  # pairing starts the video
                ws_changes = [m for m in client.messages(timeout=20) if m["type"] == "EmotionChanged"]
            assert served.proc.wait(timeout=30) == 0
        finally:
            served.stop()
    by_address: dict[str, list[tuple]] = {}
    for address, args in received:
        by_address.setdefault(address, []).append(args)
    emotions = by_address["/emoplay/emotion"]
    assert [(label, track) for label, _, track, _, _ in emotions] == [(m["current"], m["track_id"]) for m in ws_changes]
    for (label, confidence, _, valence, arousal), m in zip(emotions, ws_changes):
        assert abs(confidence - m["confidence"]) < 1e-3
        assert abs(valence - m["valence"]) < 1e-3 and abs(arousal - m["arousal"]) < 1e-3
    assert emotions[-1][0] == "happy"
    for args in by_address["/emoplay/probabilities"]:
        assert len(args) == 1 + len(EMOTIONS) and abs(sum(args[1:]) - 1) < 0.01
    assert all(len(a) == 3 for a in by_address["/emoplay/valence_arousal"])
    assert by_address["/emoplay/face_found"][0] == (1, 1)  # track 1, the primary face
    assert by_address["/emoplay/face_lost"] == [(1,)]
    assert by_address["/emoplay/camera"][-1] == ("off",)


def test_an_osc_sender_given_a_name_instead_of_an_ip_address_is_a_bridge_error():
    from emoplay import BridgeError
    from emoplay.bridge.osc import OscSender

    with pytest.raises(BridgeError, match="give an IP address; check --osc"):
        OscSender("a" * 64 + ".example", 9000)


# -- where OSC may go, and failures that are reported -----------------------------------------------------------
def serve_exit(capsys, *args: str) -> tuple[int, str]:
    from emoplay.cli import main

    code = main(["serve", "--source", str(require_shared(VIDEOS / "single_face.mp4")), "--port", "0", *args])
    return code, capsys.readouterr().err


def test_an_osc_host_name_is_refused_without_being_looked_up(capsys, monkeypatch):
    import socket

    looked_up = []
    for name in ("getaddrinfo", "gethostbyname", "gethostbyname_ex"):
        monkeypatch.setattr(socket, name, lambda *a, _name=name, **k: looked_up.append((_name, a)))
    code, err = serve_exit(capsys, "--osc", "evil.example:9000", "--allow-remote-osc")
    assert code == 2 and "give an IP address (e.g. 127.0.0.1:9000), not a name" in err
    assert looked_up == []


def test_an_osc_address_on_another_machine_needs_the_explicit_opt_in(capsys):
    code, err = serve_exit(capsys, "--osc", "192.0.2.1:9000")
    assert code == 2 and "192.0.2.1:9000 is not on this machine" in err and "--allow-remote-osc" in err


@pytest.mark.parametrize("target", ["255.255.255.255:9000", "224.0.0.1:9000", "0.0.0.0:9000", "[ff02::1]:9000"])
def test_broadcast_multicast_and_unspecified_osc_addresses_are_refused_even_with_the_opt_in(capsys, target):
    code, err = serve_exit(capsys, "--osc", target, "--allow-remote-osc")
    assert code == 2 and "give one receiver's address" in err


@pytest.mark.parametrize("args, message", [(["--osc", ""], "expected HOST:PORT"),
                                           (["--allow-remote-osc"], "--allow-remote-osc goes with --osc")])
def test_an_empty_osc_target_or_a_lone_opt_in_is_an_error(capsys, args, message):
    code, err = serve_exit(capsys, *args)
    assert code == 2 and message in err


def test_the_opt_in_allows_a_remote_address_and_localhost_means_loopback():
    from emoplay.bridge.osc import osc_address

    assert osc_address("192.0.2.1:9000", allow_remote=True) == ("192.0.2.1", 9000)
    assert osc_address("localhost:9000") == ("127.0.0.1", 9000)
    assert osc_address("[::1]:9000") == ("::1", 9000)


def test_send_failures_are_logged_once_counted_and_summed_up_at_close(caplog):
    import logging
    import socket

    from pythonosc.osc_message import OscMessage

    from emoplay.bridge.osc import OscSender

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5)
    port = receiver.getsockname()[1]
    caplog.set_level(logging.INFO, logger="emoplay.bridge")
    with OscSender("127.0.0.1", port) as sender:
        sender._send("/emoplay/face_lost", [3])
        message = OscMessage(receiver.recv(4096))
        assert (message.address, message.params) == ("/emoplay/face_lost", [3])
        receiver.close()  # the receiver quits: the system answers "connection refused"
        for _ in range(5):
            sender._send("/emoplay/face_lost", [4])
        assert sender.failures >= 2  # Linux reports the refusal of one datagram on the next send
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [f"cannot send OSC to 127.0.0.1:{port}: Connection refused; is the receiver running?"]
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", port))
        receiver.settimeout(5)
        for _ in range(2):  # the first may only collect the refusal of the last one sent while it was away
            sender._send("/emoplay/face_lost", [5])
        assert OscMessage(receiver.recv(4096)).params == [5]
        receiver.close()
    assert caplog.records[-1].getMessage() == f"{sender.failures} OSC messages to 127.0.0.1:{port} could not be sent"


def test_serve_reports_an_osc_receiver_that_is_not_running(tmp_path):
    import socket
    import subprocess

    from tests.support.bridge import serve_command

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free once closed: nothing listens there
    video = require_shared(VIDEOS / "single_face.mp4")
    done = subprocess.run(serve_command("--port", "0", "--source", str(video), "--osc", f"127.0.0.1:{port}"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"cannot send OSC to 127.0.0.1:{port}: Connection refused; is the receiver running?" in done.stderr
