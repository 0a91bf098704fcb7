"""A Python client of the bridge protocol (for tools, tests and Python hosts in another process)::

    from emoplay.bridge.client import BridgeClient

    with BridgeClient.connect("ws://127.0.0.1:8765/ws", token, client="my tool") as bridge:
        print(bridge.welcome["camera_state"])
        for message in bridge.messages(timeout=5.0):
            if message["type"] == "EmotionChanged":
                print(message["track_id"], message["current"], message["valence"])

Blocking, one connection; :func:`connect_with_retry` retries with exponential backoff, as the Godot
addon does. Unknown message types and fields are passed through untouched (the protocol's rule).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Iterator

from .._errors import BridgeError


class BridgeClient:
    def __init__(self, connection: Any, welcome: dict[str, Any], closer: contextlib.ExitStack) -> None:
        self._connection = connection
        self._closer = closer
        self.welcome = welcome

    @classmethod
    def connect(cls, url: str, token: str, *, client: str = "python", events: list[str] | None = None,
                probabilities_hz: float = 0.0, timeout: float = 5.0) -> "BridgeClient":
        """Open the connection, send the hello, wait for the welcome; BridgeError if refused."""
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
        from websockets.sync.client import connect

        closer = contextlib.ExitStack()
        try:
            connection = closer.enter_context(
                connect(url, open_timeout=timeout, close_timeout=1.0, max_size=2**20, compression=None))
        except InvalidURI:
            raise BridgeError(f"{url!r} is not a WebSocket URL: use the ws://127.0.0.1:PORT/ws that emoplay serve "
                              "printed") from None
        except InvalidStatus as e:
            raise BridgeError(f"the bridge at {url} refused the connection: HTTP {e.response.status_code}") from None
        except (OSError, InvalidHandshake, TimeoutError) as e:
            raise BridgeError(f"cannot connect to the bridge at {url}: {e}; is `emoplay serve` running?") from None
        hello: dict[str, Any] = {"type": "hello", "token": token, "client": client}
        if events is not None:
            hello["events"] = list(events)
        if probabilities_hz:
            hello["probabilities_hz"] = probabilities_hz
        try:
            connection.send(json.dumps(hello))
            first = json.loads(connection.recv(timeout))
        except (ConnectionClosed, TimeoutError) as e:
            closer.close()
            raise BridgeError(f"the bridge closed the connection before a welcome: {_close_reason(e)}") from None
        if first.get("type") != "welcome":
            closer.close()
            raise BridgeError(f"the bridge refused the hello: {first.get('message', first)}")
        return cls(connection, first, closer)

    def receive(self, timeout: float | None = None) -> dict[str, Any] | None:
        """The next message; None if none came within ``timeout`` or the server closed the connection."""
        from websockets.exceptions import ConnectionClosed

        try:
            return json.loads(self._connection.recv(timeout))
        except TimeoutError:
            return None
        except ConnectionClosed:
            return None

    def messages(self, timeout: float) -> Iterator[dict[str, Any]]:
        """Messages until ``timeout`` seconds pass without one, or the connection closes."""
        while (message := self.receive(timeout)) is not None:
            yield message

    def send(self, message: dict[str, Any]) -> None:
        """Send a client message: {"type": "indicator"}, {"type": "pause"}, {"type": "resume"}, {"type": "ping"}."""
        self._connection.send(json.dumps(message))

    @property
    def close_code(self) -> int | None:
        """The close code once the connection closed (e.g. 1001: the server stopped, 4003: too slow)."""
        return self._connection.close_code

    def close(self) -> None:
        self._closer.close()

    def __enter__(self) -> "BridgeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def connect_with_retry(url: str, token: str, *, attempts: int = 8, first_delay_s: float = 0.25,
                       max_delay_s: float = 4.0, sleep: Any = time.sleep, **kwargs: Any) -> BridgeClient:
    """connect() with exponential backoff (0.25, 0.5, 1, 2, 4, 4 … s); raises the last BridgeError."""
    delay = first_delay_s
    for attempt in range(attempts):
        try:
            return BridgeClient.connect(url, token, **kwargs)
        except BridgeError:
            if attempt == attempts - 1:
                raise
            sleep(delay)
            delay = min(delay * 2, max_delay_s)
    raise ValueError("attempts must be >= 1")


def _close_reason(error: Any) -> str:
    rcvd = getattr(error, "rcvd", None)
    if rcvd is not None:
        return f"{rcvd.code} {rcvd.reason}".strip()
    return str(error) or type(error).__name__
