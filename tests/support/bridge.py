"""Helpers for the bridge tests: a real `emoplay serve` subprocess, raw HTTP/WebSocket handshakes."""

from __future__ import annotations

import base64
import json
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import jsonschema

from emoplay.bridge.protocol import json_schema

# Long enough for a cold start on a busy 2-core machine (imports, model load with --wait-for-client off).
STARTUP_TIMEOUT_S = 60.0


@dataclass
class Served:
    proc: subprocess.Popen
    websocket: str
    dashboard: str
    token: str
    port: int
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGINT (Ctrl-C), then the exit code; killed if it does not stop."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"emoplay serve did not stop on SIGINT; stderr:\n{self.stderr()[-2000:]}")
        finally:
            self.proc.stdout.close()


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "emoplay.cli", "serve", *args]


def start_serve(tmp_path: Path, *args: str, port: int = 0, command: list[str] | None = None) -> Served:
    """Start `emoplay serve --port PORT ARGS` (0: any free port) and read its first stdout line (the URLs).

    ``command``: another way to run `emoplay serve` (the self-contained executable), instead of this Python's."""
    stderr_path = tmp_path / f"serve-{len(list(tmp_path.glob('serve-*')))}.stderr"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(stderr_path, "wb") as err:
        proc = subprocess.Popen([*(command or serve_command()), "--port", str(port), *args], stdout=subprocess.PIPE, stderr=err, env=env)
    line = _read_line(proc, STARTUP_TIMEOUT_S)
    if not line:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        raise AssertionError(f"emoplay serve printed no URL line; stderr:\n{stderr_path.read_text()[-3000:]}")
    info = json.loads(line)
    port = int(info["websocket"].rsplit(":", 1)[1].split("/")[0])
    if "#token=" in info["dashboard"]:
        token = info["dashboard"].split("#token=", 1)[1]
    else:  # a token file: its token is not printed
        token = Path(info["token_file"]).read_text().strip()
    return Served(proc, info["websocket"], info["dashboard"], token, port, stderr_path)


def _read_line(proc: subprocess.Popen, timeout: float) -> str:
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    buf = b""
    import time

    deadline = time.monotonic() + timeout
    while b"\n" not in buf and time.monotonic() < deadline:
        if not sel.select(max(0.0, deadline - time.monotonic())):
            break
        chunk = os.read(proc.stdout.fileno(), 4096)
        if not chunk:
            break
        buf += chunk
    sel.close()
    return buf.split(b"\n", 1)[0].decode()


@contextmanager
def idle_process() -> Iterator[subprocess.Popen]:
    """A process that only sleeps (a stand-in for a game to follow with --parent-pid); killed at the end."""
    host = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        yield host
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()


def wait_until_ended(pid: int, timeout: float) -> bool:
    """True once process ``pid`` (not necessarily a child of this one) has ended: gone, or a zombie (Linux /proc)."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state in ("Z", "X"):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def http_request(port: int, path: str = "/", headers: dict[str, str] | None = None,
                 upgrade: bool = False) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP/1.1 GET (optionally a WebSocket upgrade): (status, headers, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    lines = [f"GET {path} HTTP/1.1"]
    fields = {"Host": f"127.0.0.1:{port}"}
    if upgrade:
        fields.update({"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Version": "13",
                       "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()})
    fields.update(headers or {})
    lines += [f"{k}: {v}" for k, v in fields.items() if v is not None]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines if ":" in h)}
    length = int(parsed.get("content-length", 0) or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    sock.close()
    return int(status_line.split()[1]), parsed, body


def raw_websocket(port: int, rcvbuf: int | None = None) -> socket.socket:
    """A WebSocket opened by hand (so a test can stop reading); the 101 response is consumed."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1)  # byte by byte: nothing after the response may be consumed here
    assert data.startswith(b"HTTP/1.1 101"), data
    return sock


def send_text_frame(sock: socket.socket, text: str) -> None:
    """One masked text frame, as a client must send it (RFC 6455 5.2)."""
    payload = text.encode()
    mask = os.urandom(4)
    n = len(payload)
    header = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
    sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


_VALIDATOR = jsonschema.Draft202012Validator(json_schema())


def assert_valid_message(message: dict) -> None:
    """The message matches the protocol's JSON Schema (docs/bridge/protocol.schema.json)."""
    errors = list(_VALIDATOR.iter_errors(message))
    assert not errors, f"{message} does not match the schema: {[e.message for e in errors][:3]}"


@contextmanager
def osc_receiver() -> Iterator[tuple[int, list[tuple[str, tuple]]]]:
    """A real python-osc UDP server on a free loopback port, in a thread: yields (port, received), where received
    collects (address, args) of every message in order; the server stops when the block ends."""
    import threading

    from pythonosc.dispatcher import Dispatcher
    from pythonosc.osc_server import BlockingOSCUDPServer

    received: list[tuple[str, tuple]] = []
    dispatcher = Dispatcher()
    dispatcher.set_default_handler(lambda address, *args: received.append((address, args)))
    with BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher) as server:
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield server.server_address[1], received
        finally:
            server.shutdown()
            thread.join()
