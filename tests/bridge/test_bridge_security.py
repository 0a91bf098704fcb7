"""Security of `emoplay serve`, each rule against a real server: Host, Origin, token, hello, size, count, speed.

One server for the module (a looping real-time video, so events keep coming); every test opens its own
connections over a real socket.
"""

from __future__ import annotations

import json
import socket
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.support import VIDEOS, require_shared
from tests.support.bridge import http_request, raw_websocket, send_text_frame, start_serve
from emoplay import BridgeError
from emoplay.bridge.client import BridgeClient, connect_with_retry

MAX_CLIENTS = 4
HELLO_TIMEOUT_S = 1.0
KEEPALIVE_S = 1.0


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    video = require_shared(VIDEOS / "talking_smiling.mp4")
    server = start_serve(tmp_path_factory.mktemp("serve"), "--source", str(video), "--realtime", "--loop",
                         "--max-clients", str(MAX_CLIENTS), "--hello-timeout", str(HELLO_TIMEOUT_S),
                         "--keepalive", str(KEEPALIVE_S))
    yield server
    assert server.stop() == 0, server.stderr()[-3000:]


def _open(served, **kwargs):
    return connect(served.websocket, open_timeout=5, close_timeout=1, **kwargs)


def _close_of(ws, first: str | None) -> tuple[list[str], int | None, str]:
    """Send ``first`` (if any), then read until the server closes: (messages, close code, reason)."""
    if first is not None:
        ws.send(first)
    received = []
    try:
        while True:
            received.append(ws.recv(timeout=5))
    except ConnectionClosed as e:
        return received, e.rcvd.code if e.rcvd else None, e.rcvd.reason if e.rcvd else ""


@pytest.mark.slow
def test_a_paired_client_gets_a_welcome_with_the_current_state_then_events(served):
    with BridgeClient.connect(served.websocket, served.token) as client:
        assert client.welcome["camera_state"] == "capturing"
        message = client.receive(timeout=10)
    assert message is not None and message["type"][0].isupper()


def test_a_wrong_token_gets_an_error_and_no_event(served):
    with _open(served) as ws:
        received, code, reason = _close_of(ws, json.dumps({"type": "hello", "token": "x" * 43}))
    assert code == 4001 and "wrong token" in reason
    assert [json.loads(m)["type"] for m in received] == ["error"]


@pytest.mark.slow
def test_a_client_that_sends_no_hello_is_closed_after_the_timeout(served):
    with _open(served) as ws:
        start = time.monotonic()
        received, code, reason = _close_of(ws, None)
    assert received == [] and code == 4002 and "no hello" in reason
    assert time.monotonic() - start < HELLO_TIMEOUT_S + 3


@pytest.mark.parametrize("garbage", ["not json", "[1, 2]", '{"type": "subscribe"}', '{"no": "type"}',
                                     '{"type": "pause"}', '{"type": "hello"}', b"\x00\xff\x00binary",
                                     "[" * 2000 + "]" * 2000])  # nested too deep for json to decode
def test_garbage_first_messages_close_the_connection_with_nothing_sent(served, garbage):
    with _open(served) as ws:
        received, code, _ = _close_of(ws, garbage)
    assert code == 4000
    assert [json.loads(m)["type"] for m in received] == ["error"]


@pytest.mark.slow
def test_garbage_after_pairing_closes_that_connection_only(served):
    with BridgeClient.connect(served.websocket, served.token) as other, _open(served) as ws:
        ws.send(json.dumps({"type": "hello", "token": served.token}))
        assert json.loads(ws.recv(timeout=5))["type"] == "welcome"
        _, code, _ = _close_of(ws, "{garbage")
        assert code == 4000
        assert other.receive(timeout=10) is not None


def test_an_oversize_message_closes_the_connection(served):
    with _open(served) as ws:
        received, code, _ = _close_of(ws, json.dumps({"type": "hello", "token": served.token, "client": "x" * 5000}))
    assert code == 1009 and received == []


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "https://127.0.0.1"])
def test_a_foreign_origin_is_refused_before_the_handshake(served, origin):
    with pytest.raises(InvalidStatus) as refused:
        _open(served, origin=origin)
    assert refused.value.response.status_code == 403
    status, _, _ = http_request(served.port, "/ws", {"Origin": origin}, upgrade=True)
    assert status == 403


def test_the_dashboard_origin_and_native_clients_without_origin_are_accepted(served):
    for origin in (f"http://127.0.0.1:{served.port}", f"http://localhost:{served.port}", None):
        with _open(served, origin=origin) as ws:
            ws.send(json.dumps({"type": "hello", "token": served.token}))
            assert json.loads(ws.recv(timeout=5))["type"] == "welcome"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1", "127.0.0.1:1",
                                  "rebind.attacker.test:{port}"])
def test_a_foreign_host_header_is_refused(served, host):
    host = host.format(port=served.port)
    for path, upgrade in (("/ws", True), ("/", False), ("/dashboard.js", False)):
        status, _, body = http_request(served.port, path, {"Host": host}, upgrade=upgrade)
        assert status == 421, (path, status)
        assert b"token" not in body and b"<html" not in body


def test_two_host_headers_are_refused(served):
    sock = socket.create_connection(("127.0.0.1", served.port), timeout=5)
    sock.sendall(f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\nHost: evil.example\r\n\r\n".encode())
    reply = sock.recv(4096)
    sock.close()
    assert reply.split()[1] == b"421"


def test_the_dashboard_is_served_locally_with_a_strict_content_security_policy(served):
    status, headers, body = http_request(served.port, "/")
    assert status == 200 and b"<title>emoplay dashboard</title>" in body
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert served.token.encode() not in body  # the token lives only in the URL fragment
    for asset in ("/dashboard.js", "/dashboard.css"):
        assert http_request(served.port, asset)[0] == 200
    assert http_request(served.port, "/../../etc/passwd")[0] == 404
    assert b"http" not in body.replace(b"http-equiv", b"")  # no asset from the web


def test_more_clients_than_the_cap_are_refused_and_a_freed_slot_can_be_reused(served):
    clients = [BridgeClient.connect(served.websocket, served.token, client=f"c{i}") for i in range(MAX_CLIENTS)]
    try:
        with pytest.raises(BridgeError, match="503"):
            BridgeClient.connect(served.websocket, served.token)
    finally:
        for c in clients[1:]:
            c.close()
    clients[0].close()
    # The server frees the slots as its handlers see the closes; a client reconnecting with backoff gets one.
    with connect_with_retry(served.websocket, served.token, client="after", attempts=6) as again:
        assert again.welcome["type"] == "welcome"
        assert again.receive(timeout=10) is not None


SQUATTERS = """
import socket, sys, threading, time
port, seconds = int(sys.argv[1]), float(sys.argv[2])
request = (f"GET /ws HTTP/1.1\\r\\nHost: 127.0.0.1:{port}\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n"
           "Sec-WebSocket-Version: 13\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\n\\r\\n").encode()
end, opened = time.monotonic() + seconds, [0]

def squat():
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(request)
                opened[0] += 1
                sock.recv(4096)  # the 101; then hold the connection until the server says something more
                sock.recv(4096)
        except OSError:
            pass

threads = [threading.Thread(target=squat) for _ in range(int(sys.argv[3]))]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(opened[0])
"""


@pytest.mark.slow
def test_connections_that_never_send_a_hello_cannot_lock_a_paired_client_out(served):
    """The attack: 8 local loops reconnecting as fast as the server lets them, never sending a hello."""
    import subprocess
    import sys

    seconds = 8.0
    squatters = subprocess.Popen([sys.executable, "-c", SQUATTERS, str(served.port), str(seconds), "16"],
                                 stdout=subprocess.PIPE, text=True)
    paired, refused = 0, []
    try:
        time.sleep(1.0)  # the squatters hold every slot they can get
        deadline = time.monotonic() + seconds - 2.0
        while time.monotonic() < deadline:
            try:
                with BridgeClient.connect(served.websocket, served.token, client="player") as client:
                    assert client.welcome["type"] == "welcome"
                    paired += 1
            except BridgeError as e:
                refused.append(str(e))
            time.sleep(0.1)
    finally:
        opened = int(squatters.communicate(timeout=30)[0])
    assert opened > 3 * 16, f"the attack did not run ({opened} connections)"  # each loop came back again and again
    assert refused == [] and paired >= 10, (opened, paired, refused[:3])


def test_more_paired_clients_than_the_cap_are_refused_even_when_they_arrive_together(served):
    """Two handshakes may pass the HTTP check together; the hello of the one past the cap is refused."""
    import contextlib

    with contextlib.ExitStack() as stack:
        for i in range(MAX_CLIENTS - 1):
            stack.enter_context(BridgeClient.connect(served.websocket, served.token, client=f"c{i}"))
        late = [stack.enter_context(_open(served)) for _ in range(2)]
        for ws in late:
            ws.send(json.dumps({"type": "hello", "token": served.token}))
        firsts = [json.loads(ws.recv(timeout=5)) for ws in late]
    assert sorted(m["type"] if m["type"] == "welcome" else m["code"] for m in firsts) == ["too_many_clients", "welcome"]


@pytest.mark.slow
def test_a_stalled_client_is_dropped_and_the_others_keep_receiving(served):
    stalled = raw_websocket(served.port, rcvbuf=4096)
    send_text_frame(stalled, json.dumps({"type": "hello", "token": served.token, "client": "stalled",
                                         "probabilities_hz": 30}))
    with BridgeClient.connect(served.websocket, served.token, client="reader", probabilities_hz=10) as reader:
        # The stalled socket is never read: it answers no ping, so within 2 keepalive periods it is dropped.
        received_while_stalled = 0
        deadline = time.monotonic() + 4 * KEEPALIVE_S + 2
        while time.monotonic() < deadline:
            if reader.receive(timeout=1) is not None:
                received_while_stalled += 1
        assert received_while_stalled >= 10  # about 10 probability messages a second kept arriving
        stalled.settimeout(5)
        data, chunk = b"", b"x"
        while chunk:  # drain what the kernel buffered: the server has closed its end
            chunk = stalled.recv(65536)
            data += chunk
        stalled.close()
        assert reader.receive(timeout=5) is not None  # and the reader is still served


def test_pause_and_resume_from_a_paired_client(served):
    with BridgeClient.connect(served.websocket, served.token, events=["CameraStateChanged"]) as client:
        client.send({"type": "pause"})
        states = [m["current"] for m in _until(client, lambda m: m.get("current") == "paused")]
        client.send({"type": "resume"})
        states += [m["current"] for m in _until(client, lambda m: m.get("current") == "capturing")]
    assert states[-1] == "capturing" and "paused" in states


@pytest.mark.slow
def test_an_unpaired_connection_cannot_pause(served):
    with BridgeClient.connect(served.websocket, served.token, events=["CameraStateChanged"]) as watcher:
        with _open(served) as ws:
            _, code, _ = _close_of(ws, json.dumps({"type": "pause"}))
        assert code == 4000
        assert watcher.receive(timeout=1.5) is None  # no state change happened


def _until(client, done, timeout: float = 10.0):
    out, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = client.receive(timeout=1)
        if message is None:
            continue
        out.append(message)
        if done(message):
            return out
    raise AssertionError(f"condition not met; got {out}")
