"""The loopback bridge: emoplay events for hosts that are not Python (WebSocket, OSC, a browser dashboard).

``emoplay serve`` runs it; the protocol is specified in docs/bridge/PROTOCOL.md. Importing this package
loads no networking library (nor asyncio): the server and client modules load on first use of their
names, and ``websockets`` / ``python-osc`` (the ``bridge`` extra) when a server, client or OSC sender
is created.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .protocol import PROTOCOL_VERSION, VALENCE_AROUSAL, event_message, json_schema, valence_arousal

_LAZY = {
    "BridgeClient": ".client",
    "connect_with_retry": ".client",
    "BridgeOptions": ".server",
    "BridgeServer": ".server",
}

__all__ = ["BridgeClient", "BridgeOptions", "BridgeServer", "PROTOCOL_VERSION", "VALENCE_AROUSAL", "connect_with_retry",
           "event_message", "json_schema", "valence_arousal"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'emoplay.bridge' has no attribute {name!r}")
