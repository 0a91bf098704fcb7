"""How often a face's emotion changes with each stability preset, on every shared video, and the latency.

    python benchmarks/stability.py [--videos DIR] [--json]

Per preset, video and face: changes after the first reading (and per minute), flips (a change undone
within 2 s), changes to or from ``unknown`` and the share of time in it, the emotions in order; then the
posed neutral -> happy latency (5 FER2013 pairs). Real detector, real model, real videos
(``stability_measures.py`` defines each figure). ``emoplay bench`` prints the same table.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench import machine, shared_dir
from stability_measures import format_stability, measure_stability


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=shared_dir() / "data" / "videos")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    report = measure_stability(args.videos)
    if args.json:
        print(json.dumps({"stability": report, "machine": machine()}, indent=1))
    else:
        print(f"on {machine().get('cpu', '?')}")
        print(format_stability(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
