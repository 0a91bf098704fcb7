"""OSC out: emoplay events as OSC messages over UDP, send-only (no socket listens; nothing is received).

Addresses and arguments (documented in docs/bridge/PROTOCOL.md, "OSC")::

    /emoplay/emotion           s label, f confidence, i track_id, f valence, f arousal
    /emoplay/probabilities     i track_id, then f x7 in EMOTIONS order (angry … neutral)
    /emoplay/valence_arousal   i track_id, f valence, f arousal
    /emoplay/face_found        i track_id, i is_primary (0/1)
    /emoplay/face_lost         i track_id
    /emoplay/camera            s state
"""

from __future__ import annotations

from typing import Any, Iterable

from .._errors import BridgeError
from .._events import EMOTIONS
from .protocol import valence_arousal


def parse_host_port(text: str) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 as "[::1]:PORT") -> (host, port); ValueError says what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    return host.strip("[]"), int(port)


class OscSender:
    """Sends each event to one OSC receiver. UDP: a receiver that is not running loses the messages."""

    def __init__(self, host: str, port: int) -> None:
        try:
            from pythonosc.udp_client import SimpleUDPClient
        except ImportError:
            raise BridgeError("OSC output needs python-osc: pip install 'emoplay[bridge]'") from None
        self.address = (host, port)
        try:
            self._client = SimpleUDPClient(host, port)
        except OSError as e:
            raise BridgeError(f"cannot send OSC to {host}:{port}: {e.strerror or e}") from None
        except UnicodeError as e:  # a host name that is not valid IDNA (a label over 63 characters, say)
            raise BridgeError(f"cannot send OSC to {host}:{port}: not a valid host name ({e}); check --osc") \
                from None

    def send_events(self, events: Iterable[Any]) -> None:
        for event in events:
            kind = type(event).__name__
            if kind == "EmotionChanged":
                valence, arousal = valence_arousal(event.probabilities)
                self._send("/emoplay/emotion", [event.current, float(event.confidence), int(event.track_id),
                                                valence, arousal])
                self._send_probabilities(event.track_id, [event.probabilities.get(e, 0.0) for e in EMOTIONS])
            elif kind == "FaceFound":
                self._send("/emoplay/face_found", [int(event.track_id), int(bool(event.is_primary))])
            elif kind == "FaceLost":
                self._send("/emoplay/face_lost", [int(event.track_id)])
            elif kind == "CameraStateChanged":
                self._send("/emoplay/camera", [event.current.value])

    def send_probabilities(self, track_ids: Iterable[int], probabilities: Any) -> None:
        for track_id, row in zip(track_ids, probabilities):
            self._send_probabilities(track_id, [float(p) for p in row])

    def _send_probabilities(self, track_id: int, row: list[float]) -> None:
        self._send("/emoplay/probabilities", [int(track_id), *(round(float(p), 4) for p in row)])
        valence, arousal = valence_arousal(dict(zip(EMOTIONS, row)))
        self._send("/emoplay/valence_arousal", [int(track_id), valence, arousal])

    def _send(self, address: str, args: list[Any]) -> None:
        try:
            self._client.send_message(address, args)
        except OSError:
            pass  # UDP to a receiver that is gone (ECONNREFUSED on loopback): OSC out is best effort

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "OscSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
