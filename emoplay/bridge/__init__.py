"""The loopback bridge: emoplay events for hosts that are not Python (WebSocket, OSC, a browser dashboard).

``emoplay serve`` runs it; the protocol is specified in docs/bridge/PROTOCOL.md. Importing this package
loads no networking library: ``websockets`` and ``python-osc`` (the ``bridge`` extra) load when a server,
client or OSC sender is created.
"""

from __future__ import annotations

from .client import BridgeClient, connect_with_retry
from .protocol import PROTOCOL_VERSION, VALENCE_AROUSAL, event_message, json_schema, valence_arousal
from .server import BridgeOptions, BridgeServer

__all__ = ["BridgeClient", "BridgeOptions", "BridgeServer", "PROTOCOL_VERSION", "VALENCE_AROUSAL", "connect_with_retry",
           "event_message", "json_schema", "valence_arousal"]
