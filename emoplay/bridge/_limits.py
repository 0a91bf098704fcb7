"""Bounds of the bridge's options, shared by BridgeOptions and ``emoplay serve``'s arguments (no networking import).

Beyond them a value is a mistake: a keepalive of 1e308 s never pings; 10**8 clients would exhaust file
descriptors long before.
"""

MAX_CONNECTIONS = 1024  # max_clients and max_unpaired
MAX_HELLO_TIMEOUT_S = 60.0
MAX_KEEPALIVE_S = 3600.0
