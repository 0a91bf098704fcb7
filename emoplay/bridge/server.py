"""The loopback WebSocket server: pairs clients by token and fans events out without ever blocking the host.

Threads: the server's asyncio loop runs on its own thread ("emoplay-bridge"). The host thread (the one
that polls the Sensor) hands it events with :meth:`BridgeServer.publish`, which only schedules a callback
and returns at once; the Sensor's worker never touches the server. Each client has a bounded queue: a
client whose queue fills up, or that stops answering pings, is dropped, and nobody else waits for it.

Security (docs/bridge/PROTOCOL.md, "Security"): the Host header must name this server on a loopback
address (DNS rebinding); a browser Origin must be the dashboard's own (native clients send none); the
first message must be a hello with the token within ``hello_timeout_s``; tokens are compared in constant
time; messages are capped at ``max_message_bytes``; at most ``max_clients`` clients are paired. Connections
that have not sent their hello yet have a cap of their own, ``max_unpaired``: one more closes the oldest
of them (see ``_admit_unpaired``), so connections that never pair cannot keep a client with the token out.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import queue
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterable

from .._clock import Clock, monotonic_clock
from .._errors import BridgeError
from .._events import EVENT_TYPES, UNKNOWN, CameraState
from . import protocol
from ._limits import MAX_CONNECTIONS, MAX_HELLO_TIMEOUT_S, MAX_KEEPALIVE_S
from .dashboard import DASHBOARD_FILES, dashboard_response_body
from .token import tokens_match

log = logging.getLogger("emoplay.bridge")
# websockets' own connection log (open/closed/rejected), quieter than ours: the serve command shows warnings.
_ws_log = logging.getLogger("emoplay.bridge.websockets")

WS_PATH = "/ws"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

# Close codes (RFC 6455 leaves 4000-4999 to applications).
CLOSE_BAD_MESSAGE = 4000
CLOSE_UNAUTHORIZED = 4001
CLOSE_HELLO_TIMEOUT = 4002
CLOSE_TOO_SLOW = 4003
CLOSE_TOO_MANY = 1013  # "try again later"
CLOSE_GOING_AWAY = 1001

# How long close() waits for queued messages to reach clients before it cuts them off.
_FLUSH_TIMEOUT_S = 2.0
# A connection waiting for its hello is closed to make room for a new one only once it has waited this long: a
# client with the token sends its hello as soon as the handshake is done, well within this even on a machine
# so busy that its processes wait for a core (on 2 cores at a load of 20, a hello can take over 0.25 s).
_UNPAIRED_GRACE_S = 1.0
# Connections younger than that are let in over max_unpaired up to this many times it, and closed beyond.
_UNPAIRED_HARD_CAP = 32
# How long a closing handshake may take before the connection is dropped (a stalled client never answers).
_CLOSE_TIMEOUT_S = 1.0


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class BridgeOptions:
    host: str = "127.0.0.1"
    port: int = 0  # 0: the system picks a free port (see BridgeServer.port)
    allow_remote: bool = False  # a host that is not loopback needs this
    # More names or addresses the Host header may give (without a port): those other machines use to reach this
    # one. Listening on every address (0.0.0.0, ::) needs at least one; the first is the one the URLs show.
    allowed_hosts: tuple[str, ...] = ()
    max_clients: int = 8  # paired clients at most
    max_unpaired: int = 8  # connections waiting for their hello; one more closes the oldest of them
    hello_timeout_s: float = 3.0  # the first message (a hello with the token) must come within this
    max_message_bytes: int = 4096  # a bigger client message closes the connection (1009)
    client_queue: int = 256  # messages waiting for one client; a client further behind is dropped
    keepalive_s: float = 3.0  # ping every keepalive_s; no pong within keepalive_s drops the client
    write_limit_bytes: int = 32768  # per-connection write buffer before sends wait for the client
    clock: Clock = field(default=monotonic_clock, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port must be 0..65535 (0: any free port), got {self.port}")
        if not is_loopback(self.host) and not self.allow_remote:
            raise ValueError(f"{self.host!r} is not a loopback address: other machines could connect; pass "
                             "allow_remote=True (emoplay serve --allow-remote) if you mean it")
        object.__setattr__(self, "allowed_hosts", tuple(_host_name(h) for h in self.allowed_hosts))
        if _is_unspecified(self.host) and not self.allowed_hosts:
            raise ValueError(f"{self.host} listens on every address of this machine, and a request names the one it "
                             "used in its Host header: say which one clients use with allowed_hosts "
                             "(emoplay serve --allowed-host 192.168.1.20), or listen on that address with --host")
        for name in ("client_queue", "max_message_bytes", "write_limit_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        for name in ("max_clients", "max_unpaired"):
            if not 1 <= getattr(self, name) <= MAX_CONNECTIONS:
                raise ValueError(f"{name} must be 1..{MAX_CONNECTIONS}, got {getattr(self, name)!r}")
        for name, high in (("hello_timeout_s", MAX_HELLO_TIMEOUT_S), ("keepalive_s", MAX_KEEPALIVE_S)):
            if not math.isfinite(getattr(self, name)) or not 0 < getattr(self, name) <= high:
                raise ValueError(f"{name} must be a number of seconds > 0 and <= {high:g}, got {getattr(self, name)!r}")

    @property
    def url_host(self) -> str:
        """The host the URLs name: the listening address, or the first allowed host when that is every address."""
        host = self.allowed_hosts[0] if _is_unspecified(self.host) else self.host
        return f"[{host}]" if ":" in host and not host.startswith("[") else host


def _header_values(values: list[str]) -> str:
    """The values of a header for the log, each cut to 80 characters; all of them when it came more than once."""
    if len(values) == 1:
        return repr(values[0][:80])
    return "(none)" if not values else f"({len(values)} headers: {', '.join(repr(v[:80]) for v in values[:4])})"


def _is_unspecified(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _host_name(text: str) -> str:
    """An allowed Host name as the header gives it (lower case, IPv6 in brackets); ValueError if it is not one."""
    name = text.strip().lower()
    try:
        address = ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        if not re.fullmatch(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*",
                            name):
            raise ValueError(f"allowed host {text!r} is not a host name or an IP address (give it without a port "
                             "or scheme, e.g. 192.168.1.20 or mypc.local)") from None
        return name
    if address.is_unspecified or address.is_multicast:
        raise ValueError(f"allowed host {text!r} is not the address of one machine")
    return f"[{address}]" if address.version == 6 else str(address)


@dataclass(eq=False)  # compared and hashed by identity: clients live in a set
class _Client:
    connection: Any
    name: str
    events: frozenset[str] | None  # None: every event type
    probability_hz: float
    queue: asyncio.Queue
    last_probabilities: float = float("-inf")

    def wants(self, kind: str) -> bool:
        return self.events is None or kind in self.events


class BridgeServer:
    """Serves events on ``ws://HOST:PORT/ws`` and the dashboard on ``http://HOST:PORT/``; a context manager."""

    def __init__(self, token: str, options: BridgeOptions | None = None, source_name: str = "",
                 camera_state: CameraState = CameraState.OFF) -> None:
        if not isinstance(token, str) or len(token) < 16:
            raise ValueError("the pairing token must be a string of at least 16 characters")
        self.options = options or BridgeOptions()
        self._token = token
        self._source_name = source_name
        # The state a welcome reports, kept on the loop thread from the events published, so a client gets
        # the state and then exactly the events that follow it.
        self._camera_state = camera_state.value
        self._emotions: dict[int, tuple[str, float]] = {}
        self._primary: int | None = None
        self._clients: set[_Client] = set()
        self._closing: set[asyncio.Future] = set()
        self._connections: set[Any] = set()  # connections in the handler, paired or not
        self._unpaired: dict[Any, float] = {}  # connections waiting for their hello: when they came, oldest first
        self._commands: queue.SimpleQueue = queue.SimpleQueue()
        self._indicators = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stop: asyncio.Future | None = None
        self._closed = False
        self.port: int | None = None
        self.clients_paired = 0  # counters, for the serve command's log and for tests
        self.clients_dropped = 0

    # -- life cycle (host thread) ---------------------------------------------------------------------------
    def start(self) -> "BridgeServer":
        """Bind the socket and start serving; raises BridgeError if the port cannot be used."""
        if self._thread is not None:
            return self
        import websockets  # noqa: F401 - fail here, with the caller's traceback, if the extra is missing

        self._thread = threading.Thread(target=self._run_loop, name="emoplay-bridge", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            self._thread.join()
            raise self._startup_error
        return self

    def close(self) -> None:
        """Send what is queued (up to a short timeout), close every connection, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and self._thread is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._request_stop)
            self._thread.join()

    def __enter__(self) -> "BridgeServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def websocket_url(self) -> str:
        return f"ws://{self.options.url_host}:{self.port}{WS_PATH}"

    @property
    def dashboard_url(self) -> str:
        """The dashboard's address; the token travels in the fragment, which browsers never send to a server."""
        return f"http://{self.options.url_host}:{self.port}/#token={self._token}"

    # -- host thread API ------------------------------------------------------------------------------------
    def publish(self, events: Iterable[Any]) -> None:
        """Queue events for every paired client that wants them. Never blocks."""
        messages = [protocol.event_message(e) for e in events]
        if messages and self._loop is not None and not self._closed:
            self._loop.call_soon_threadsafe(self._fan_out, messages)

    def publish_probabilities(self, track_ids: Iterable[int], probabilities: Any, timestamp: float) -> None:
        """The latest frame's per-face probabilities, for clients that asked for the stream (rate-limited)."""
        messages = [protocol.probabilities_message(t, p, timestamp) for t, p in zip(track_ids, probabilities)]
        if messages and self._loop is not None and not self._closed:
            self._loop.call_soon_threadsafe(self._fan_out_probabilities, messages)

    def take_commands(self) -> list[tuple[str, str]]:
        """(command, client name) pairs paired clients sent since the last call: "pause", "resume"."""
        out = []
        while True:
            try:
                out.append(self._commands.get_nowait())
            except queue.Empty:
                return out

    @property
    def indicators_received(self) -> int:
        """How many ``indicator`` messages paired clients sent (each one: the indicator is on screen now)."""
        return self._indicators

    @property
    def client_count(self) -> int:
        return len(self._clients)

    # -- the loop thread ------------------------------------------------------------------------------------
    def _run_loop(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        except BaseException as e:  # noqa: BLE001 - start() must never wait for a loop that died
            if not self._ready.is_set():
                self._startup_error = BridgeError(f"the bridge could not start: {type(e).__name__}: {e}")
            raise
        finally:
            self._ready.set()
            loop.close()

    async def _main(self) -> None:
        from websockets.asyncio.server import serve

        o = self.options
        self._stop = asyncio.get_running_loop().create_future()
        try:
            server = await serve(self._handle, o.host.strip("[]"), o.port, process_request=self._check_request,
                                 max_size=o.max_message_bytes, max_queue=4, write_limit=o.write_limit_bytes,
                                 ping_interval=o.keepalive_s, ping_timeout=o.keepalive_s,
                                 open_timeout=o.hello_timeout_s, close_timeout=_CLOSE_TIMEOUT_S, compression=None,
                                 server_header=None, logger=_ws_log)
        except OSError as e:
            self._startup_error = BridgeError(
                f"cannot listen on {o.url_host}:{o.port}: {e.strerror or e}; "
                + ("another program uses this port: choose another --port, or 0 for any free port"
                   if e.errno in (98, 48, 10048) else "check --host and --port"))
            self._ready.set()
            return
        except Exception as e:  # noqa: BLE001 - e.g. UnicodeError for a host name that is not valid IDNA
            self._startup_error = BridgeError(f"cannot listen on {o.url_host}:{o.port}: {type(e).__name__}: {e}; "
                                              "check --host")
            self._ready.set()
            return
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop
            server.close(close_connections=False)
            for client in list(self._clients):
                try:
                    client.queue.put_nowait(None)  # the sender sends what is queued, then closes
                except asyncio.QueueFull:  # a stalled client: its backlog is not waited for
                    self._drop(client, f"too slow: more than {o.client_queue} messages waiting at shutdown")
            waiters = [c.connection.wait_closed() for c in self._clients]
            if waiters:
                await asyncio.wait([asyncio.ensure_future(w) for w in waiters], timeout=_FLUSH_TIMEOUT_S)
            for connection in list(self._connections):
                # Past the flush: a client that stopped reading cannot take its close frame either (its TCP
                # window is full); waiting for it would hold close() until the keepalive gave up on it.
                if connection.transport is not None and not connection.transport.is_closing():
                    connection.transport.abort()
            server.close()
            await server.wait_closed()
        finally:
            self._clients.clear()

    def _request_stop(self) -> None:
        if self._stop is not None and not self._stop.done():
            self._stop.set_result(None)

    # -- HTTP: Host and Origin checks, the dashboard ----------------------------------------------------------
    def _allowed_hosts(self) -> set[str]:
        names = set(LOOPBACK_NAMES) | set(self.options.allowed_hosts)
        if not _is_unspecified(self.options.host):
            names.add(self.options.url_host)
        return {f"{name}:{self.port}" for name in names}

    def _check_request(self, connection: Any, request: Any) -> Any:
        from http import HTTPStatus

        hosts = request.headers.get_all("Host")
        if len(hosts) != 1 or hosts[0].lower() not in self._allowed_hosts():
            log.warning("refused a request for Host %s (only this server's own addresses are served)",
                        _header_values(hosts))
            return connection.respond(HTTPStatus.MISDIRECTED_REQUEST, "Wrong Host header.\n")
        origins = request.headers.get_all("Origin")
        if origins and (len(origins) != 1 or origins[0].lower() not in {f"http://{h}" for h in self._allowed_hosts()}):
            log.warning("refused a request from Origin %s (only the dashboard's own origin may connect)",
                        _header_values(origins))
            return connection.respond(HTTPStatus.FORBIDDEN, "Foreign Origin.\n")
        path = request.path.split("?", 1)[0]
        if path == WS_PATH:
            if len(self._clients) >= self.options.max_clients:
                return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "Too many clients.\n")
            return None  # go on with the WebSocket handshake
        if path in DASHBOARD_FILES:
            return self._static(connection, path)
        return connection.respond(HTTPStatus.NOT_FOUND, "Not found.\n")

    def _static(self, connection: Any, path: str) -> Any:
        from http import HTTPStatus

        body, content_type = dashboard_response_body(path)
        response = connection.respond(HTTPStatus.OK, "")
        response.body = body
        # 'self' covers the page's own ws:// origin (CSP 3); an IPv6 literal such as [::1] is not a valid CSP host,
        # so only the named hosts are listed besides it.
        sources = " ".join(["'self'", *(f"ws://{h}" for h in sorted(self._allowed_hosts()) if not h.startswith("["))])
        for name, value in (
                ("Content-Type", content_type), ("Content-Length", str(len(body))), ("Cache-Control", "no-store"),
                ("Content-Security-Policy", f"default-src 'none'; script-src 'self'; style-src 'self'; "
                                            f"img-src 'self'; connect-src {sources}; base-uri 'none'; "
                                            "form-action 'none'; frame-ancestors 'none'"),
                ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"),
                ("Cross-Origin-Resource-Policy", "same-origin")):
            if name in response.headers:
                del response.headers[name]
            response.headers[name] = value
        return response

    # -- WebSocket: pairing, commands, sending ----------------------------------------------------------------
    async def _handle(self, connection: Any) -> None:
        from websockets.exceptions import ConnectionClosed

        if not self._admit_unpaired(connection):
            await connection.close(CLOSE_TOO_MANY, "too many connections waiting for their hello")
            return
        self._connections.add(connection)
        client = None
        try:
            try:
                client = await self._pair(connection)
            finally:
                self._unpaired.pop(connection, None)
            if client is None:
                return
            sender = asyncio.create_task(self._send_loop(client))
            try:
                async for raw in connection:
                    if not await self._on_message(client, raw):
                        break
            except ConnectionClosed:
                pass
            finally:
                self._clients.discard(client)
                if not sender.done():
                    sender.cancel()
        except ConnectionClosed:
            pass
        finally:
            self._connections.discard(connection)

    def _admit_unpaired(self, connection: Any) -> bool:
        """Count a new connection as waiting for its hello; False if it was closed at once (too many waiting).

        Past ``max_unpaired`` the oldest waiting connection is closed, if it has waited ``_UNPAIRED_GRACE_S``:
        a client with the token sends its hello at once, so a connection that old is the likeliest never to
        send one, and one younger may be a client whose hello is on its way. When none is that old, the new
        connection is let in over the cap, up to ``_UNPAIRED_HARD_CAP`` times it, and closed beyond.
        """
        o = self.options
        now = o.clock()
        if len(self._unpaired) >= o.max_unpaired:
            oldest, since = next(iter(self._unpaired.items()))
            if now - since >= _UNPAIRED_GRACE_S:
                del self._unpaired[oldest]
                log.info("closed a connection that sent no hello: more than %d were waiting", o.max_unpaired)
                self._close_soon(oldest, CLOSE_TOO_MANY, "too many connections waiting for their hello")
            elif len(self._unpaired) >= o.max_unpaired * _UNPAIRED_HARD_CAP:
                return False
        self._unpaired[connection] = now
        return True

    def _close_soon(self, connection: Any, code: int, reason: str) -> None:
        task = asyncio.ensure_future(connection.close(code, reason))
        self._closing.add(task)  # asyncio holds tasks weakly: keep it until it is done
        task.add_done_callback(self._closing.discard)

    async def _pair(self, connection: Any) -> _Client | None:
        o = self.options
        try:
            raw = await asyncio.wait_for(connection.recv(), o.hello_timeout_s)
        except asyncio.TimeoutError:
            await connection.close(CLOSE_HELLO_TIMEOUT, f"no hello within {o.hello_timeout_s:g} s")
            return None
        try:
            hello = protocol.parse_client_message(raw)
        except protocol.ProtocolError as e:
            await self._refuse(connection, CLOSE_BAD_MESSAGE, "bad_message", str(e))
            return None
        if hello["type"] != "hello":
            await self._refuse(connection, CLOSE_BAD_MESSAGE, "bad_message", "the first message must be a hello")
            return None
        if not tokens_match(hello["token"], self._token):
            log.warning("refused a client with a wrong token")
            await self._refuse(connection, CLOSE_UNAUTHORIZED, "unauthorized",
                               "wrong token: read it from the token file emoplay serve was given")
            return None
        if len(self._clients) >= o.max_clients:
            await self._refuse(connection, CLOSE_TOO_MANY, "too_many_clients",
                               f"{o.max_clients} clients are paired already; try again later")
            return None
        wanted = hello.get("events")
        client = _Client(connection, hello.get("client", "") or "client",
                         None if wanted is None else frozenset(wanted), float(hello.get("probabilities_hz", 0)),
                         asyncio.Queue(maxsize=o.client_queue))
        # Registered and welcomed in one loop step: no event can fall between the state and the stream.
        client.queue.put_nowait(protocol.encode(self._welcome(client)))
        self._clients.add(client)
        self.clients_paired += 1
        log.info("client %r paired", client.name)
        return client

    async def _refuse(self, connection: Any, code: int, error: str, message: str) -> None:
        await connection.send(protocol.encode(protocol.error_message(error, message)))
        await connection.close(code, message[:120])

    def _welcome(self, client: _Client) -> dict[str, Any]:
        events = sorted(client.events) if client.events is not None else [*EVENT_TYPES]
        return protocol.welcome_message(self._camera_state, self._source_name, self._emotions, self._primary,
                                        events, client.probability_hz)

    async def _on_message(self, client: _Client, raw: Any) -> bool:
        """Handle one message of a paired client; False closes the connection."""
        try:
            message = protocol.parse_client_message(raw)
        except protocol.ProtocolError as e:
            await self._refuse(client.connection, CLOSE_BAD_MESSAGE, "bad_message", str(e))
            return False
        kind = message["type"]
        if kind == "indicator":
            self._indicators += 1
        elif kind in ("pause", "resume"):
            self._commands.put((kind, client.name))
        elif kind == "ping":
            self._enqueue(client, protocol.encode({"type": "pong"}))
        # a second hello changes nothing
        return True

    async def _send_loop(self, client: _Client) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            while True:
                text = await client.queue.get()
                if text is None:
                    await client.connection.close(CLOSE_GOING_AWAY, "emoplay serve is stopping")
                    return
                await client.connection.send(text)
        except ConnectionClosed:
            pass

    def _enqueue(self, client: _Client, text: str) -> None:
        try:
            client.queue.put_nowait(text)
        except asyncio.QueueFull:
            self._drop(client, f"too slow: more than {self.options.client_queue} messages waiting")

    def _drop(self, client: _Client, reason: str) -> None:
        if client in self._clients:
            self._clients.discard(client)
            self.clients_dropped += 1
            log.warning("dropped client %r: %s", client.name, reason)
            self._close_soon(client.connection, CLOSE_TOO_SLOW, reason)

    def _fan_out(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            self._track_state(message)
            text = protocol.encode(message)
            for client in list(self._clients):
                if client.wants(message["type"]):
                    self._enqueue(client, text)

    def _fan_out_probabilities(self, messages: list[dict[str, Any]]) -> None:
        now = self.options.clock()
        texts: list[str] | None = None  # encoded once, for the first client that is due
        for client in list(self._clients):
            if client.probability_hz <= 0 or now - client.last_probabilities < 1.0 / client.probability_hz:
                continue
            client.last_probabilities = now
            if texts is None:
                texts = [protocol.encode(message) for message in messages]
            for text in texts:
                self._enqueue(client, text)

    def _track_state(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "CameraStateChanged":
            self._camera_state = message["current"]
        elif kind == "EmotionChanged":
            self._emotions[message["track_id"]] = (message["current"], message["confidence"])
        elif kind == "FaceLost":
            self._emotions.pop(message["track_id"], None)
            if self._primary == message["track_id"]:
                self._primary = None
        elif kind == "FaceFound":
            self._emotions.setdefault(message["track_id"], (UNKNOWN, 0.0))  # in view, not read yet (or too small)
            if message.get("is_primary"):
                self._primary = message["track_id"]
        elif kind == "PrimaryFaceChanged":
            self._primary = message.get("current")
