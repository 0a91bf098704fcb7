"""``emoplay serve``: a Sensor plus the loopback bridge (WebSocket, dashboard, optional OSC out).

The first line on stdout is one JSON object with the WebSocket and dashboard URLs; everything else
(state changes, clients pairing and being dropped) goes to stderr. This module imports no networking
library at import time, so ``emoplay`` without the ``bridge`` extra still lists and runs its other commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from ._arguments import (add_source_arguments, ask_camera_consent, at_most, non_negative_float, positive_float,
                         sensor_options_from_args)
from .._errors import BridgeError, WorkerError

# How often the serve loop polls the sensor, forwards events and checks client commands.
_POLL_S = 0.01
# Probabilities go to OSC at most this often (WebSocket clients choose their own rate in their hello).
_OSC_PROBABILITY_HZ = 10.0


def register(sub: Any) -> None:
    from ..bridge._limits import MAX_CONNECTIONS, MAX_HELLO_TIMEOUT_S, MAX_KEEPALIVE_S

    serve = sub.add_parser("serve", allow_abbrev=False,
                           help="serve emotion events on loopback: WebSocket, a browser dashboard, OSC out")
    add_source_arguments(serve)
    serve.add_argument("--loop", action="store_true", help="video files: start again at the end")
    serve.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0: any free port)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, loopback)")
    serve.add_argument("--allow-remote", action="store_true",
                       help="allow a --host that is not loopback: other machines can then connect")
    serve.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                       help="with --allow-remote: a name or address other machines use to reach this one, which "
                            "their requests then may name (repeatable; needed with --host 0.0.0.0 or ::)")
    serve.add_argument("--token-file", metavar="FILE",
                       help="pairing token file, created (mode 0600) with a new token if missing; "
                            "default: a new token for this run only")
    serve.add_argument("--osc", metavar="IP:PORT",
                       help="also send events as OSC over UDP to IP:PORT (an address on this machine, e.g. "
                            "127.0.0.1:9000; names are not looked up)")
    serve.add_argument("--allow-remote-osc", action="store_true",
                       help="allow an --osc address on another machine: the emotion stream then leaves this one")
    serve.add_argument("--vmc", metavar="IP:PORT", nargs="?", const="127.0.0.1:39539",
                       help="also send the primary face's emotion as VRM expressions over the VMC protocol to an "
                            "avatar app on this machine (default 127.0.0.1:39539)")
    serve.add_argument("--max-clients", type=at_most(MAX_CONNECTIONS), default=8,
                       help="paired clients at most (default 8; connections still to send their hello do not count)")
    serve.add_argument("--keepalive", type=at_most(MAX_KEEPALIVE_S, positive_float, " seconds"), default=3.0,
                       help="seconds between pings; a client that does not answer within as long is dropped")
    serve.add_argument("--hello-timeout", type=at_most(MAX_HELLO_TIMEOUT_S, positive_float, " seconds"), default=3.0,
                       help="seconds a new connection has to send its hello with the token (default 3)")
    serve.add_argument("--wait-for-client", action="store_true",
                       help="open the source only when the first client pairs (a video then plays from its start)")
    serve.add_argument("--require-indicator", action="store_true",
                       help="pause capture while no client shows the indicator, for video files too "
                            "(always on for cameras)")
    serve.add_argument("--max-seconds", type=non_negative_float, default=0,
                       help="stop after this many seconds (0: never)")
    serve.add_argument("--parent-pid", type=int, metavar="PID",
                       help="stop (exit code 0) when the process PID ends, checked every 0.5 s: "
                            "for a game or engine that starts the server itself")
    serve.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from ..sensor._sensor import Sensor

    try:
        import pythonosc  # noqa: F401
        import websockets  # noqa: F401
    except ImportError as e:
        raise BridgeError(f"emoplay serve needs the bridge extra ({e.name} is missing): "
                          "pip install 'emoplay[bridge]'") from None
    from ..bridge.osc import OscSender, osc_address
    from ..bridge.parent import ParentWatch
    from ..bridge.server import BridgeOptions, BridgeServer, is_loopback
    from ..bridge.token import load_or_create_token, new_token
    from ..bridge.vmc import VmcSender, parse_vmc_target

    if args.allow_remote_osc and args.osc is None:
        print("emoplay: --allow-remote-osc goes with --osc IP:PORT", file=sys.stderr)
        return 2
    if args.allowed_host and not args.allow_remote:
        print("emoplay: --allowed-host goes with --allow-remote (and a --host other machines can reach)",
              file=sys.stderr)
        return 2
    if not is_loopback(args.host):
        if not args.allow_remote:
            print(f"emoplay: --host {args.host} is not loopback: other machines could read the emotion stream; "
                  "add --allow-remote if you mean it", file=sys.stderr)
            return 2
        print(f"emoplay: warning: listening on {args.host}, not loopback: anyone who can reach this address "
              "and has the token can read the emotion stream", file=sys.stderr)
    try:
        bridge_options = BridgeOptions(host=args.host, port=args.port, allow_remote=args.allow_remote,
                                       allowed_hosts=tuple(args.allowed_host),
                                       max_clients=args.max_clients, keepalive_s=args.keepalive,
                                       hello_timeout_s=args.hello_timeout)
        osc_target = osc_address(args.osc, args.allow_remote_osc) if args.osc is not None else None
        vmc_target = parse_vmc_target(args.vmc) if args.vmc else None
        parent = ParentWatch(args.parent_pid) if args.parent_pid is not None else None
    except ValueError as e:
        print(f"emoplay: {e}", file=sys.stderr)
        return 2
    if osc_target is not None and not is_loopback(osc_target[0]):
        print(f"emoplay: warning: sending OSC to {args.osc}, another machine: the emotion stream leaves this one, "
              "unencrypted and unauthenticated", file=sys.stderr)
    token = load_or_create_token(args.token_file) if args.token_file else new_token()
    options = sensor_options_from_args(args, loop=args.loop,
                                       require_indicator=True if args.require_indicator else None)
    _log_to_stderr()
    with Sensor(options) as sensor:
        refused = ask_camera_consent(sensor, args.yes)
        if refused is not None:
            return refused
        if not args.wait_for_client:
            sensor.start()  # a missing camera fails here, before the URLs are printed
        osc = OscSender(*osc_target) if osc_target else None
        vmc = VmcSender(*vmc_target) if vmc_target else None
        udp_out = [sender for sender in (osc, vmc) if sender is not None]
        # Ctrl-C and SIGTERM end the serve loop at its next turn, so shutdown (flush clients, release the
        # source) always runs in full; a second signal interrupts at once. Installed before the URLs are
        # printed: a client (or a test) may signal as soon as it has read them.
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: _stop_then_default(stop))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            with BridgeServer(token, bridge_options, source_name=sensor.source.name,
                              camera_state=sensor.camera_state) as server:
                # A token kept in a file is not printed: launchers and service journals keep stdout. The
                # dashboard then asks for it (or takes #token=… added to the address by hand).
                dashboard = server.dashboard_url.split("#", 1)[0] if args.token_file else server.dashboard_url
                try:
                    print(json.dumps({"websocket": server.websocket_url, "dashboard": dashboard,
                                      "protocol": _protocol_version(),
                                      "token_file": os.path.abspath(args.token_file) if args.token_file else None}),
                          flush=True)
                except BrokenPipeError:  # `emoplay serve | true`: nobody can learn the URLs, so serve nothing
                    from . import _quiet_stdout

                    _quiet_stdout()
                    print("emoplay: stdout was closed before the URLs could be printed (the program reading it "
                          "exited?); nothing was served", file=sys.stderr)
                    return 1
                return _run(sensor, server, udp_out, args, stop, parent)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for sender in udp_out:
                sender.close()


def _run(sensor: Any, server: Any, udp_out: list, args: argparse.Namespace, stop: threading.Event,
         parent: Any = None) -> int:
    """The serve loop, on this (the host's) thread: sensor events out, client commands in, until ``stop``."""
    deadline = time.monotonic() + args.max_seconds if args.max_seconds else None
    frames_seen, last_osc_probabilities = sensor.frames_processed, float("-inf")
    status, started, indicators_seen = 0, not args.wait_for_client, 0
    try:
        while not stop.is_set():
            if not started and server.clients_paired:
                sensor.start()
                started = True
            _apply_commands(sensor, server)
            if server.indicators_received != indicators_seen:
                indicators_seen = server.indicators_received
                sensor.heartbeat()  # a client showed the camera indicator since the last turn
            events, failed = _poll(sensor)
            status = status or failed
            server.publish(events)
            for sender in udp_out:  # OSC, VMC
                sender.send_events(events)
            result = sensor.last_result
            # After the source ended or paused, the last frame's faces are already reported lost: no probabilities.
            if sensor.frames_processed != frames_seen and result is not None \
                    and sensor.camera_state.value == "capturing":
                frames_seen = sensor.frames_processed
                now = time.monotonic()
                server.publish_probabilities(result.track_ids, result.probabilities, now)
                if udp_out and now - last_osc_probabilities >= 1.0 / _OSC_PROBABILITY_HZ:
                    last_osc_probabilities = now
                    for sender in udp_out:
                        sender.send_probabilities(result.track_ids, result.probabilities)
            if status or (started and not sensor.running and sensor.camera_state.value in ("off", "error")):
                break  # the video ended, or the sensor failed
            if deadline is not None and time.monotonic() > deadline:
                break
            if parent is not None and parent.gone():
                logging.getLogger("emoplay.bridge").info("parent process %d has ended: stopping", parent.pid)
                break
            time.sleep(_POLL_S)
    finally:
        sensor.stop()
    # The worker may have failed after the last poll() (the loop then saw the error state and stopped): the
    # failure is in this last batch, and is reported the same way.
    events, failed = _poll(sensor)
    server.publish(events)
    return status or failed


def _apply_commands(sensor: Any, server: Any) -> None:
    from .._errors import SensorStateError

    for command, client in server.take_commands():
        logging.getLogger("emoplay.bridge").info("%s requested by %r", command, client)
        try:
            if command == "pause":
                sensor.pause()
            elif command == "resume" and sensor.camera_state.value == "paused":
                sensor.resume()
        except SensorStateError as e:
            logging.getLogger("emoplay.bridge").warning("%s refused: %s", command, e)


def _poll(sensor: Any) -> tuple[list, int]:
    """The sensor's events, and 1 if the worker failed (said on stderr), else 0."""
    try:
        return sensor.poll(), 0
    except WorkerError as e:
        print(f"emoplay: {e}", file=sys.stderr)
        return getattr(e, "events", []), 1


def _stop_then_default(stop: threading.Event) -> None:
    stop.set()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _log_to_stderr() -> None:
    """The serve command's own log lines (the library never configures logging; this command does)."""
    logger = logging.getLogger("emoplay.bridge")
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("emoplay serve: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        logging.getLogger("emoplay.bridge.websockets").setLevel(logging.WARNING)


def _protocol_version() -> int:
    from ..bridge.protocol import PROTOCOL_VERSION

    return PROTOCOL_VERSION
