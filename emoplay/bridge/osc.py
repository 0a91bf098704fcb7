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

import ipaddress
import logging
import socket
from typing import Any, Iterable

from .._errors import BridgeError
from .._events import EMOTIONS
from .protocol import valence_arousal

log = logging.getLogger("emoplay.bridge")


def parse_host_port(text: str) -> tuple[str, int]:
    """"HOST:PORT" (IPv6 as "[::1]:PORT") -> (host, port); ValueError says what is wrong."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT (e.g. 127.0.0.1:9000), got {text!r}")
    return host.strip("[]"), int(port)


def osc_address(text: str, allow_remote: bool = False) -> tuple[str, int]:
    """The (IP address, port) to send OSC to, from "HOST:PORT"; ValueError says what is wrong.

    HOST must be an IP address or ``localhost`` (no name is ever looked up: a DNS answer could point the
    emotion stream anywhere), a single host (not a broadcast, multicast or unspecified address), and on
    this machine unless ``allow_remote``.
    """
    host, port = parse_host_port(text)
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"--osc {text}: give an IP address (e.g. 127.0.0.1:{port}), not a name; emoplay does not "
                         "look names up") from None
    if address.is_multicast or address.is_unspecified or address == ipaddress.ip_address("255.255.255.255"):
        raise ValueError(f"--osc {text}: a broadcast, multicast or unspecified address would send the emotion "
                         "stream to many machines; give one receiver's address")
    if not address.is_loopback and not allow_remote:
        raise ValueError(f"--osc {text} is not on this machine: the emotion stream would leave it, unencrypted "
                         "and to anyone on the path; add --allow-remote-osc if you mean it")
    return str(address), port


class OscSender:
    """Sends each event to one OSC receiver at an IP address, over a connected UDP socket.

    UDP: a receiver that is not running loses the messages. Sends that fail (on loopback the system
    reports a receiver that is not listening, on every other send; elsewhere an unreachable network)
    are counted in ``failures``: the first is logged as a warning, and ``close()`` logs the count.
    """

    def __init__(self, host: str, port: int) -> None:
        try:
            from pythonosc.osc_message_builder import OscMessageBuilder  # noqa: F401
        except ImportError:
            raise BridgeError("OSC output needs python-osc: pip install 'emoplay[bridge]'") from None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise BridgeError(f"cannot send OSC to {host}:{port}: give an IP address; check --osc") from None
        self.address = (str(address), port)
        self.failures = 0  # messages that could not be sent
        self._socket = socket.socket(socket.AF_INET6 if address.version == 6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._socket.setblocking(False)
            self._socket.connect(self.address)  # UDP: no packet is sent; errors of later sends are reported to us
        except OSError as e:
            self._socket.close()
            raise BridgeError(f"cannot send OSC to {host}:{port}: {e.strerror or e}; check --osc") from None

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
        from pythonosc.osc_message_builder import OscMessageBuilder

        builder = OscMessageBuilder(address)
        for arg in args:
            builder.add_arg(arg)
        try:
            self._socket.send(builder.build().dgram)
        except OSError as e:
            self.failures += 1
            if self.failures == 1:
                log.warning("cannot send OSC to %s:%d: %s; is the receiver running?", *self.address, e.strerror or e)

    def close(self) -> None:
        if self.failures and self._socket.fileno() != -1:
            log.warning("%d OSC messages to %s:%d could not be sent", self.failures, *self.address)
        self._socket.close()

    def __enter__(self) -> "OscSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
