"""OSC out: `emoplay serve --osc` on a shared video, received by a real python-osc UDP server in the test."""

from __future__ import annotations

import threading

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from tests.support import VIDEOS, require_shared
from tests.support.bridge import start_serve
from emoplay import EMOTIONS
from emoplay.bridge.client import BridgeClient


@pytest.mark.slow
def test_serve_sends_emotions_probabilities_valence_arousal_and_faces_over_osc(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    received: list[tuple[str, tuple]] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append((address, args)))
    with BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher) as osc_server:
        port = osc_server.server_address[1]
        thread = threading.Thread(target=osc_server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        served = start_serve(tmp_path, "--source", str(video), "--wait-for-client", "--osc", f"127.0.0.1:{port}")
        try:
            with BridgeClient.connect(served.websocket, served.token) as client:  # pairing starts the video
                ws_changes = [m for m in client.messages(timeout=20) if m["type"] == "EmotionChanged"]
            assert served.proc.wait(timeout=30) == 0
        finally:
            served.stop()
            osc_server.shutdown()
            thread.join()
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


def test_an_osc_host_that_is_not_a_valid_name_is_a_bridge_error():
    import pytest

    from emoplay import BridgeError
    from emoplay.bridge.osc import OscSender

    with pytest.raises(BridgeError, match="not a valid host name.*check --osc"):
        OscSender("a" * 64 + ".example", 9000)
