"""VMC out: `emoplay serve --vmc` on a shared video, received by a real python-osc UDP server as an avatar app would."""

from __future__ import annotations

import pytest

from tests.support.bridge import osc_receiver, start_serve
from tests.support import VIDEOS, require_shared
from emoplay import BridgeError
from emoplay.bridge.client import BridgeClient
from emoplay.bridge.vmc import VRM_EXPRESSIONS, VmcSender, vrm_expressions
from emoplay.cli import main

pytestmark = pytest.mark.slow  # subprocesses, real servers or whole studies: seconds each


def _frames(received: list[tuple[str, tuple]]) -> list[dict[str, float]]:
    """The blendshape values of each /VMC/Ext/Blend/Apply, in order."""
    frames, pending = [], {}
    for address, args in received:
        if address == "/VMC/Ext/Blend/Val":
            pending[args[0]] = args[1]
        elif address == "/VMC/Ext/Blend/Apply":
            assert args == ()
            frames.append(pending)
            pending = {}
    assert not pending, "values sent without an Apply after them"
    return frames


def test_serve_drives_the_vrm_expressions_of_the_primary_face_over_vmc(tmp_path):
    video = require_shared(VIDEOS / "single_face.mp4")
    with osc_receiver() as (port, received):  # the avatar app
        served = start_serve(tmp_path, "--source", str(video), "--realtime", "--wait-for-client", "--vmc",
                             f"127.0.0.1:{port}")
        try:
            with BridgeClient.connect(served.websocket, served.token) as client:  # pairing starts the video
                changes = [m for m in client.messages(timeout=20) if m["type"] == "EmotionChanged"]
            assert served.proc.wait(timeout=30) == 0
        finally:
            served.stop()
    frames = _frames(received)
    assert {a for a, _ in received} == {"/VMC/Ext/Blend/Val", "/VMC/Ext/Blend/Apply"}  # nothing but VMC on this port
    assert len(frames) >= 10  # the probability stream: 10 a second over the ~2.3 s the face is in view
    assert all(set(f) == {"Joy", "Angry", "Sorrow", "Surprised", "Neutral"} for f in frames)
    assert all(0.0 <= v <= 1.0 for f in frames for v in f.values())
    sent = vrm_expressions(changes[-1]["probabilities"])  # each EmotionChanged of the face is sent (as float32)
    assert any(all(abs(f[name] - value) < 1e-6 for name, value in sent.items()) for f in frames)
    smiling = frames[-2]  # the last frame with the face in view: the man smiles from about 0.8 s
    assert changes[-1]["current"] == "happy" and smiling["Joy"] > 0.5 and smiling["Joy"] == max(smiling.values())
    assert frames[-1] == dict.fromkeys(VRM_EXPRESSIONS.values(), 0.0)  # the face was lost: expressions reset


def test_vmc_goes_to_this_machine_only(capsys, tmp_path):
    with pytest.raises(BridgeError, match="this machine only"):
        VmcSender("192.0.2.1", 39539)
    assert main(["serve", "--source", "no-such-video.mp4", "--vmc", "192.0.2.1:39539"]) == 2
    err = capsys.readouterr().err
    assert "--vmc 192.0.2.1:39539: VMC out goes to this machine only" in err and "Traceback" not in err
    assert main(["serve", "--source", "no-such-video.mp4", "--vmc", "avatar.example:39539"]) == 2  # never looked up
    assert "VMC out goes to this machine only" in capsys.readouterr().err
    assert not (tmp_path / "token").exists()


def test_the_mapping_uses_the_standard_vrm_names_and_leaves_fear_and_disgust_out():
    values = vrm_expressions({"angry": 0.1, "disgust": 0.3, "fear": 0.2, "happy": 0.15, "sad": 0.05,
                              "surprise": 0.1, "neutral": 0.1})
    assert values == {"Joy": 0.15, "Angry": 0.1, "Sorrow": 0.05, "Surprised": 0.1, "Neutral": 0.1}
