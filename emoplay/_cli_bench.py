"""``emoplay bench``: measure speed, CPU share, memory, import time and event latency on this machine."""

from __future__ import annotations

import argparse
import json
import sys

from ._arguments import add_detector_range_argument, non_negative_float


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="measure speed, CPU share, memory and latency on this machine against the targets",
        description="Measure emoplay on this machine with the real detector, model and pipeline: stage timings, "
                    "end-to-end frames per second, CPU share at 30 fps, memory over a long run, import time, "
                    "event latency and camera-off time. Prints a table, or one JSON object with --json.",
        allow_abbrev=False)
    bench.add_argument("--json", action="store_true", help="print one JSON object with every figure and target")
    bench.add_argument("--fast", action="store_true",
                       help="few repetitions and a 20 s soak: a quick check that the benchmark works, not figures "
                            "to quote")
    bench.add_argument("--soak", type=non_negative_float, default=None, metavar="SECONDS",
                       help="how long to feed 30 fps while sampling memory (default 600, or 20 with --fast; "
                            "less than 5 runs 5)")
    add_detector_range_argument(bench)  # the detector of every figure but the per-range rows (all three)
    bench.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ._bench import BenchSettings, format_table, run_bench

    soak = args.soak if args.soak is not None else (20.0 if args.fast else 600.0)
    settings = BenchSettings(fast=args.fast, soak_s=soak, detector_range=args.detector_range)
    report = run_bench(settings, progress=lambda step: print(f"bench: {step} ...", file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(format_table(report))
    return 0
