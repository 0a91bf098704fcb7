"""VMC out: the primary face's emotion as VRM expression blendshapes, for avatar and VTuber hosts.

The Virtual Motion Capture protocol (OSC over UDP, default port 39539) sets an avatar's blendshapes by name
with ``/VMC/Ext/Blend/Val`` (s name, f value 0..1) and applies them together with ``/VMC/Ext/Blend/Apply``.
``emoplay serve --vmc`` sends, for the primary face, the probability of each emotion that has a standard VRM
expression (documented in docs/bridge/PROTOCOL.md, "VMC"):

    happy -> Joy, angry -> Angry, sad -> Sorrow, surprise -> Surprised, neutral -> Neutral

``fear`` and ``disgust`` have no VRM expression and ``Fun`` no emotion here: they are not sent. When the
primary face is lost, every expression above is set to 0. Send-only, like OSC out, and to a receiver on
this machine only: there is no pairing on UDP.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any, Iterable

from .._errors import BridgeError
from .._events import EMOTIONS

VMC_DEFAULT_PORT = 39539
VRM_EXPRESSIONS = {"happy": "Joy", "angry": "Angry", "sad": "Sorrow", "surprise": "Surprised", "neutral": "Neutral"}
BLEND_VALUE = "/VMC/Ext/Blend/Val"
BLEND_APPLY = "/VMC/Ext/Blend/Apply"

log = logging.getLogger("emoplay.bridge")


def parse_vmc_target(text: str) -> tuple[str, int]:
    """``--vmc IP:PORT`` -> (IP address, port); ValueError when it is malformed or not on this machine."""
    from .osc import parse_host_port

    host, port = parse_host_port(text)
    return loopback_ip(host, port), port


def loopback_ip(host: str, port: int) -> str:
    """``host`` as a loopback IP address (``localhost`` is 127.0.0.1; no name is looked up); ValueError if not."""
    if host.lower() == "localhost":
        host = "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise ValueError(f"--vmc {host}:{port}: VMC out goes to this machine only (an IP address such as 127.0.0.1 "
                         "or ::1, or localhost): UDP has no pairing, so anyone on the path could read it")
    return str(address)


def vrm_expressions(probabilities: dict[str, float]) -> dict[str, float]:
    """VRM expression name -> value (0..1, 4 decimals) from one face's emotion probabilities."""
    return {name: round(min(1.0, max(0.0, float(probabilities.get(emotion, 0.0)))), 4)
            for emotion, name in VRM_EXPRESSIONS.items()}


class VmcSender:
    """Sends the primary face's expressions to one VMC receiver on this machine."""

    def __init__(self, host: str = "127.0.0.1", port: int = VMC_DEFAULT_PORT) -> None:
        try:
            host = loopback_ip(host, port)
        except ValueError as e:
            raise BridgeError(str(e)) from None
        try:
            from pythonosc.udp_client import SimpleUDPClient
        except ImportError:
            raise BridgeError("VMC output needs python-osc: pip install 'emoplay[bridge]'") from None
        self.address = (host, port)
        try:
            self._client = SimpleUDPClient(host, port)
        except OSError as e:
            raise BridgeError(f"cannot send VMC to {host}:{port}: {e.strerror or e}") from None
        self._primary: int | None = None
        self._errors = 0

    def send_events(self, events: Iterable[Any]) -> None:
        for event in events:
            kind = type(event).__name__
            if kind == "FaceFound" and event.is_primary:
                self._primary = event.track_id
            elif kind == "PrimaryFaceChanged":
                self._primary = event.current
            elif kind == "EmotionChanged" and event.track_id == self._primary:
                self._send(vrm_expressions(event.probabilities))
            elif kind == "FaceLost" and event.track_id == self._primary:
                self._primary = None
                self._send(dict.fromkeys(VRM_EXPRESSIONS.values(), 0.0))

    def send_probabilities(self, track_ids: Iterable[int], probabilities: Any) -> None:
        """The latest frame's probabilities (rows in EMOTIONS order); only the primary face's row is sent."""
        for track_id, row in zip(track_ids, probabilities):
            if track_id == self._primary:
                self._send(vrm_expressions(dict(zip(EMOTIONS, (float(p) for p in row)))))

    def _send(self, expressions: dict[str, float]) -> None:
        try:
            for name, value in expressions.items():
                self._client.send_message(BLEND_VALUE, [name, value])
            self._client.send_message(BLEND_APPLY, [])
        except OSError as e:  # UDP to a receiver that is not running (ECONNREFUSED on loopback): best effort
            self._errors += 1
            if self._errors == 1:
                log.warning("VMC out to %s:%d: %s (is the avatar app listening?); sending on",
                            *self.address, e.strerror or e)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> "VmcSender":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
