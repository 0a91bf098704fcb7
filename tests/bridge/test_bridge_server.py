"""BridgeServer in-process (a real socket, real event dataclasses): fan-out, slow clients, state, retries."""

from __future__ import annotations

import socket
import stat
import threading
import time

import pytest

from emoplay import BridgeError, CameraState, CameraStateChanged, EmotionChanged, FaceFound, FaceLost
from emoplay.bridge.client import BridgeClient, connect_with_retry
from emoplay.bridge.server import BridgeOptions, BridgeServer
from emoplay.bridge.token import load_or_create_token, read_token, tokens_match

TOKEN = "t" * 43


def _changed(track_id: int, current: str, t: float) -> EmotionChanged:
    return EmotionChanged(track_id, "neutral", current, 0.9, {"happy": 0.9, "neutral": 0.1}, t)


def test_a_client_whose_queue_overflows_is_dropped_and_the_others_are_not():
    with BridgeServer(TOKEN, BridgeOptions(client_queue=4)) as server:
        greedy = BridgeClient.connect(server.websocket_url, TOKEN, client="greedy")
        picky = BridgeClient.connect(server.websocket_url, TOKEN, client="picky", events=["FaceLost"])
        server.publish([_changed(1, "happy", i / 30) for i in range(50)])  # one batch: more than 4 at once
        received = list(greedy.messages(timeout=2))
        assert greedy.close_code == 4003 and len(received) <= 4
        server.publish([FaceLost(1, 2.0)])
        assert picky.receive(timeout=5)["type"] == "FaceLost"
        assert server.clients_dropped == 1
        picky.close()
        greedy.close()


def test_the_welcome_holds_the_state_built_from_the_events_published():
    with BridgeServer(TOKEN, source_name="test", camera_state=CameraState.OFF) as server:
        with BridgeClient.connect(server.websocket_url, TOKEN, events=["FaceLost"]) as earlier:
            server.publish([CameraStateChanged(CameraState.OFF, CameraState.CAPTURING, "capturing", 0.0),
                            FaceFound(3, (1, 2, 3, 4), 0.1, is_primary=True), _changed(3, "happy", 0.2),
                            FaceFound(4, (5, 6, 7, 8), 0.1), _changed(4, "surprise", 0.3), FaceLost(4, 0.4)])
            # publish() returns at once; the loop thread applies the batch before it sends its last event
            last = earlier.receive(timeout=10)
            assert last is not None and (last["type"], last["track_id"]) == ("FaceLost", 4)
        with BridgeClient.connect(server.websocket_url, TOKEN) as client:
            welcome = client.welcome
    assert welcome["camera_state"] == "capturing" and welcome["source"] == "test"
    assert welcome["faces"] == [{"track_id": 3, "emotion": "happy", "confidence": 0.9}]
    assert welcome["primary_track_id"] == 3


def test_the_welcome_lists_every_face_in_view_even_one_without_an_emotion():
    """A face found but not read (not yet, or too small: PipelineOptions.min_face_px) is in the welcome as unknown,
    so a page that connects later draws its card too."""
    with BridgeServer(TOKEN, source_name="test", camera_state=CameraState.OFF) as server:
        server.publish([FaceFound(3, (1, 2, 3, 4), 0.1, is_primary=True), _changed(3, "happy", 0.2),
                        FaceFound(5, (50, 60, 18, 18), 0.3)])
        time.sleep(0.2)
        with BridgeClient.connect(server.websocket_url, TOKEN) as client:
            welcome = client.welcome
    assert welcome["faces"] == [{"track_id": 3, "emotion": "happy", "confidence": 0.9},
                                {"track_id": 5, "emotion": "unknown", "confidence": 0.0}]


def test_publish_returns_at_once_even_with_a_client_that_never_reads():
    with BridgeServer(TOKEN, BridgeOptions(client_queue=8)) as server:
        client = BridgeClient.connect(server.websocket_url, TOKEN)  # never reads after the welcome
        batch = [_changed(1, "happy", i / 30) for i in range(200)]
        for _ in range(20):
            server.publish(batch)  # 4000 events; a blocked publish would hang this test
        deadline = time.monotonic() + 5
        while server.clients_dropped == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.clients_dropped == 1 and server.client_count == 0  # it fell behind: dropped
        client.close()


@pytest.mark.slow
def test_close_does_not_wait_for_a_stalled_client_and_the_others_get_their_close_frame():
    """A client that stopped reading, its queue full to the brim but not yet over it (it is dropped only by the
    next message): close() drops it, cuts it off and still closes the healthy client with 1001."""
    from websockets.sync.client import connect

    from emoplay import SensorFailed

    from tests.support.bridge import raw_websocket, send_text_frame

    errors = []
    hook, threading.excepthook = threading.excepthook, lambda args: errors.append(args.exc_value)
    server = BridgeServer(TOKEN, BridgeOptions(client_queue=16, keepalive_s=30)).start()
    try:
        with connect(server.websocket_url, close_timeout=1) as good:
            good.send('{"type": "hello", "token": "%s", "client": "good"}' % TOKEN)
            good.recv(5)
            reader = threading.Thread(target=lambda: [None for _ in good], daemon=True)  # keeps up, to the close
            reader.start()
            stalled = raw_websocket(server.port, rcvbuf=4096)
            send_text_frame(stalled, '{"type": "hello", "token": "%s", "client": "stalled"}' % TOKEN)
            deadline = time.monotonic() + 30
            while server.client_count < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            queue = next(c for c in server._clients if c.name == "stalled").queue
            big = SensorFailed("m" * 3000, 1.0)
            while not queue.full() and time.monotonic() < deadline:  # its socket fills, then its queue
                if queue.qsize() == 0:
                    server.publish([big] * 8)  # 8 at once: fewer than its queue holds
                    time.sleep(0.002)
                else:
                    server.publish([big])  # topped up one by one: full, not over
                    time.sleep(0.05)
            assert queue.full() and server.clients_dropped == 0
            closing = threading.Thread(target=server.close)
            closing.start()
            closing.join(15)  # a deadline, not a timing: it only keeps a failing test from hanging
            reader.join(15)
            assert not closing.is_alive() and errors == []
            assert good.close_code == 1001 and server.clients_dropped == 1
            stalled.close()
    finally:
        threading.excepthook = hook
        server.close()


def test_start_reports_a_host_it_cannot_listen_on_instead_of_waiting_forever():
    server = BridgeServer(TOKEN, BridgeOptions(host="a" * 64 + ".example", allow_remote=True))
    outcome = []

    def start() -> None:
        try:
            server.start()
        except BridgeError as e:
            outcome.append(e)

    starting = threading.Thread(target=start, daemon=True)
    starting.start()
    starting.join(15)  # a deadline: start() used to wait forever for a loop thread that had died
    assert not starting.is_alive() and outcome and "cannot listen on" in str(outcome[0])


def test_timeouts_must_be_finite():
    for name in ("hello_timeout_s", "keepalive_s"):
        with pytest.raises(ValueError, match=f"{name} must be a number of seconds > 0 and <= [0-9]+, got nan"):
            BridgeOptions(**{name: float("nan")})


@pytest.mark.slow
def test_connect_with_retry_backs_off_until_the_server_is_up():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    delays: list[float] = []
    three_failed = threading.Event()
    result: dict = {}

    def back_off(seconds: float) -> None:
        delays.append(seconds)
        if len(delays) == 3:
            three_failed.set()
        time.sleep(seconds)

    def retry():
        result["client"] = connect_with_retry(f"ws://127.0.0.1:{port}/ws", TOKEN, attempts=20, sleep=back_off)

    thread = threading.Thread(target=retry)
    thread.start()
    assert three_failed.wait(30), f"three attempts did not fail in 30 s; delays {delays}"
    with BridgeServer(TOKEN, BridgeOptions(port=port)):
        thread.join(10)
        assert result["client"].welcome["type"] == "welcome"
        result["client"].close()
    assert delays[:3] == [0.25, 0.5, 1.0]


def test_a_url_that_is_not_a_websocket_url_is_a_bridge_error():
    with pytest.raises(BridgeError, match="not a WebSocket URL"):
        BridgeClient.connect("http://127.0.0.1:9/ws", TOKEN)


def test_connect_with_retry_gives_up_with_the_last_error():
    with pytest.raises(BridgeError, match="is `emoplay serve` running"):
        connect_with_retry("ws://127.0.0.1:9/ws", TOKEN, attempts=2, sleep=lambda s: None)


def test_options_refuse_a_remote_host_unless_allowed():
    with pytest.raises(ValueError, match="allow_remote"):
        BridgeOptions(host="0.0.0.0")
    assert BridgeOptions(host="0.0.0.0", allow_remote=True, allowed_hosts=("192.0.2.10",)).host == "0.0.0.0"
    with pytest.raises(ValueError):
        BridgeOptions(port=70000)


@pytest.mark.parametrize("option", [{"keepalive_s": 1e308}, {"hello_timeout_s": 61.0}, {"max_clients": 10**8},
                                    {"max_unpaired": 0}, {"keepalive_s": float("nan")}])
def test_options_out_of_their_bounds_are_refused(option):
    with pytest.raises(ValueError, match=next(iter(option))):
        BridgeOptions(**option)


def test_the_log_names_every_value_of_a_repeated_host_or_origin_header(caplog):
    import logging

    caplog.set_level(logging.WARNING, logger="emoplay.bridge")
    with BridgeServer(TOKEN) as server:
        for header, first in (("Host", f"127.0.0.1:{server.port}"), ("Origin", f"http://127.0.0.1:{server.port}")):
            request = "GET / HTTP/1.1\r\n" + (f"Host: 127.0.0.1:{server.port}\r\n" if header == "Origin" else "")
            request += f"{header}: {first}\r\n{header}: evil.example\r\n\r\n"
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(request.encode())
                assert sock.recv(4096).split()[1] in (b"421", b"403")
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"for Host (2 headers: '127.0.0.1:{server.port}', 'evil.example')" in m for m in messages), messages
    assert any(f"from Origin (2 headers: 'http://127.0.0.1:{server.port}', 'evil.example')" in m for m in messages)


def test_listening_on_every_address_needs_the_host_names_clients_use():
    with pytest.raises(ValueError, match=r"say which one clients use with allowed_hosts"):
        BridgeOptions(host="0.0.0.0", allow_remote=True)
    options = BridgeOptions(host="::", allow_remote=True, allowed_hosts=("MyPC.local", "fe80::1", "192.0.2.10"))
    assert options.allowed_hosts == ("mypc.local", "[fe80::1]", "192.0.2.10") and options.url_host == "mypc.local"


@pytest.mark.parametrize("name", ["mypc.local:8765", "http://mypc.local", "*.local", "0.0.0.0", "224.0.0.1", ""])
def test_an_allowed_host_must_be_one_name_or_address_without_a_port(name):
    with pytest.raises(ValueError, match="allowed host"):
        BridgeOptions(host="0.0.0.0", allow_remote=True, allowed_hosts=(name,))


def test_a_token_file_is_created_once_with_mode_0600_and_reused(tmp_path):
    path = tmp_path / "token"
    token = load_or_create_token(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(token) == 43
    assert load_or_create_token(path) == token == read_token(path)


def test_tokens_are_compared_in_full():
    assert tokens_match(TOKEN, TOKEN)
    assert not tokens_match(TOKEN[:-1], TOKEN) and not tokens_match(TOKEN + "x", TOKEN)
    assert not tokens_match("ünïcode", TOKEN)
