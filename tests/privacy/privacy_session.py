"""Run one full emoplay session on a video under a Python audit hook (used by test_privacy.py in a subprocess).

Usage: python privacy_session.py VIDEO LOGFILE KEYFILE

Records every file opened for writing, every socket, and every subprocess or exec
from the moment before ``import emoplay`` to the end of the session, and prints
them as JSON on the last line of stdout. The opted-in log file is the one
allowed write.
"""

from __future__ import annotations

import json
import os
import sys

video, log_path, key_path = sys.argv[1:4]
allowed = os.path.abspath(log_path)
violations: list[list[str]] = []
seen_events: set[str] = set()
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
PROCESS_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty",
                  "pty.spawn")


def audit(event: str, args: tuple) -> None:
    if event == "open":
        path, mode, flags = (list(args) + [None, None])[:3]
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags > 0 and flags & WRITE_FLAGS)
        if isinstance(path, int):  # open(fd): resolve the descriptor to the file it names
            try:
                path = os.readlink(f"/proc/self/fd/{path}")
            except OSError:
                pass
        if writing and os.path.abspath(str(path)) != allowed:
            violations.append(["write", str(path)])
    elif event.startswith("socket."):
        violations.append([event, repr(args)[:200]])
    elif event.startswith(PROCESS_EVENTS):
        violations.append([event, repr(args)[:200]])
    seen_events.add(event)


sys.addaudithook(audit)

import emoplay  # noqa: E402
import emoplay.sessionlog  # noqa: E402

key = emoplay.sessionlog.LogKey.from_file(key_path)
with emoplay.Sensor(source=video) as sensor:
    sensor.start_log(log_path, key)
    sensor.start()
    events = []
    while sensor.running or sensor.camera_state.value not in ("off", "error"):
        events += sensor.poll()
    events += sensor.poll()
    sensor.stop_log()
print(json.dumps({"violations": violations, "events": len(events), "audited_open": "open" in seen_events,
                  "kinds": sorted({type(e).__name__ for e in events})}))
