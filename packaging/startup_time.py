"""How long `emoplay serve` takes from start to its first stdout line (the URLs: ready for clients).

    python3 packaging/startup_time.py build/server/dist/emoplay-serve/emoplay-serve --source clip.mp4
    python3 packaging/startup_time.py emoplay serve --source clip.mp4

Runs it ``--runs`` times (``--port 0`` is added), stops each run with SIGTERM, and prints the times.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time


def time_to_first_line(command: list[str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen([*command, "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        line = proc.stdout.readline()
        elapsed = time.perf_counter() - started
        if not line:
            raise SystemExit(f"{command[0]} exited with code {proc.wait()} before its first line")
        return elapsed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)
        proc.wait(30)
        proc.stdout.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("command", nargs=argparse.REMAINDER, help="the server command and its options")
    args = parser.parse_args()
    if not args.command:
        parser.error("give the server command, e.g. build/server/dist/emoplay-serve/emoplay-serve --source clip.mp4")
    times = [time_to_first_line(args.command) for _ in range(args.runs)]
    print(f"{args.command[0]}: first line after {statistics.median(times):.2f} s (median of {len(times)}; "
          f"{', '.join(f'{t:.2f}' for t in times)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
