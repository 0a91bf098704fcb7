"""``emoplay bench``: measure speed, CPU share, memory, import time and event latency on this machine.

The measurements live in the repository (``benchmarks/bench.py``), not in the installed package: they
need frames with a face (the repository's shared clip, or matplotlib's sample photo) and write test
videos. From a checkout, ``emoplay bench`` loads them; from an installed wheel without the repository
it stops with an error that says so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path
from types import ModuleType

from .._errors import EmoplayError
from ._arguments import add_detector_range_argument, non_negative_float

# The benchmarks folder of the repository this package runs from (absent in an installed wheel).
BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


def register(subparsers) -> None:
    bench = subparsers.add_parser(
        "bench", help="measure speed, CPU share, memory and latency on this machine against the targets",
        description="Measure emoplay on this machine with the real detector, model and pipeline: stage timings, "
                    "end-to-end frames per second, CPU share at 30 fps, memory over a long run, import time, "
                    "event latency and camera-off time. Prints a table, or one JSON object with --json. "
                    "Runs from a repository checkout (it uses benchmarks/bench.py).",
        allow_abbrev=False)
    bench.add_argument("--json", action="store_true", help="print one JSON object with every figure and target")
    bench.add_argument("--fast", action="store_true",
                       help="few repetitions and a 20 s soak: a quick check that the benchmark works, not figures "
                            "to quote")
    bench.add_argument("--soak", type=non_negative_float, default=None, metavar="SECONDS",
                       help="how long to feed 30 fps while sampling memory (default 600, or 20 with --fast; "
                            "less than 5 runs 5)")
    add_detector_range_argument(bench, tiles=False)  # the detector of every figure but the per-range rows (all three)
    bench.set_defaults(func=run)


def measurements(module: str = "bench", folder: Path = BENCHMARKS) -> ModuleType:
    """A measurement module of the repository's ``benchmarks/`` folder (``bench``: what ``emoplay bench`` runs)."""
    if not (folder / f"{module}.py").is_file():
        raise EmoplayError(f"emoplay bench runs from a repository checkout: its measurements ({folder / module}.py) "
                           "are not part of the installed package; clone the emoplay repository and run "
                           "`python -m emoplay bench` in it")
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))  # the modules there import each other by name, as the scripts do
    return importlib.import_module(module)


def run(args: argparse.Namespace) -> int:
    bench = measurements()
    soak = args.soak if args.soak is not None else (20.0 if args.fast else 600.0)
    settings = bench.BenchSettings(fast=args.fast, soak_s=soak, detector_range=args.detector_range)
    report = bench.run_bench(settings, progress=lambda step: print(f"bench: {step} ...", file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(bench.format_table(report))
    return 0
