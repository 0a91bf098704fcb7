"""How long `emoplay study report` takes, and how much memory, for a study of realistic size.

    python benchmarks/study_report.py                       # 40 participants x 3 two-minute videos at 15 fps
    python benchmarks/study_report.py --participants 10 --seconds 30

Synthetic logs (tests/study/synthetic.py: real encrypted logs written by the real recorder, with a
calibration step and a rest screen before each video) are written to a temporary folder; then a fresh
Python process builds the full report from them (plots, statistics with the default 2000 bootstrap
resamples and 1000 ISC permutations, the BIDS export) and reports its wall time and peak resident memory
(``ru_maxrss``: the whole process, interpreter and imports included). Prints one JSON object.

``report_seconds`` is wall-clock time and counts whatever else the machine runs; ``report_cpu_seconds`` (the
process's user + system time) is the work the report itself needs: quote both, with the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KEY = bytes(range(32))


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def build(logs: Path, out: Path, plots: bool) -> dict:
    """Runs in the child: the report, timed, and this process's peak memory."""
    from emoplay.sessionlog import LogKey
    from emoplay.study import build_report
    from emoplay.study.report import AnalysisOptions

    paths = sorted(logs.glob("*.emolog"))
    started, cpu_started = time.perf_counter(), time.process_time()
    result = build_report(paths, LogKey.from_bytes(KEY), out, plots=plots, analysis=AnalysisOptions(formats=("bids",)))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"report_seconds": round(seconds, 2), "report_cpu_seconds": round(cpu, 2),
            "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "participants": result.participants, "files": len(result.files)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=40)
    parser.add_argument("--videos", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--fps", type=float, default=15.0)
    parser.add_argument("--no-plots", action="store_true")
    parser.add_argument("--child", nargs=2, metavar=("LOGS", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(build(Path(args.child[0]), Path(args.child[1]), not args.no_plots)))
        return 0

    sys.path.insert(0, str(ROOT / "tests"))
    from emoplay.sessionlog import LogKey
    from study.synthetic import Design, write_study

    design = Design(per_group=args.participants // 2, stimuli=tuple("ABCDEFGHIJ"[:args.videos]), seconds=args.seconds,
                    fps=args.fps, rest_seconds=4.0)
    with tempfile.TemporaryDirectory() as folder:
        logs = Path(folder) / "logs"
        logs.mkdir()
        started = time.perf_counter()
        write_study(logs, LogKey.from_bytes(KEY), design, seed=0)
        written = time.perf_counter() - started
        command = [sys.executable, __file__, "--child", str(logs), str(Path(folder) / "report")]
        if args.no_plots:
            command.append("--no-plots")
        child = subprocess.run(command, capture_output=True, text=True, check=True)
        figures = json.loads(child.stdout.strip().splitlines()[-1])
    frames = int(design.per_group * 2 * args.videos * args.seconds * args.fps)
    print(json.dumps({"cpu": cpu_name(), "cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 1),
                      "python": platform.python_version(), "participants": design.per_group * 2,
                      "videos": args.videos, "video_seconds": args.seconds, "fps": args.fps,
                      "stimulus_frames": frames, "plots": not args.no_plots,
                      "logs_written_seconds": round(written, 1), **figures,
                      "targets": {"report_seconds": 60, "peak_rss_mib": 1024}}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
