"""The loopback bridge: emoplay events for hosts that are not Python (WebSocket, OSC, a browser dashboard).

``emoplay serve`` runs it; the protocol is specified in docs/bridge/PROTOCOL.md. Importing this package
loads no networking library (nor asyncio): the server and client modules load on first use of their
names, and ``websockets`` / ``python-osc`` (the ``bridge`` extra) when a server, client or OSC sender
is created.
"""

from __future__ import annotations

from .._lazy import lazy_names
from .protocol import PROTOCOL_VERSION, VALENCE_AROUSAL, event_message, json_schema, valence_arousal

_LAZY = {
    "BridgeClient": ".client",
    "connect_with_retry": ".client",
    "BridgeOptions": ".server",
    "BridgeServer": ".server",
}

__all__ = ["BridgeClient", "BridgeOptions", "BridgeServer", "PROTOCOL_VERSION", "VALENCE_AROUSAL", "connect_with_retry",
           "event_message", "json_schema", "valence_arousal"]

__getattr__ = lazy_names(__name__, _LAZY)
