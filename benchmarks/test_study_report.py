"""benchmarks/study_report.py keeps working: a tiny study through the real script, every figure measured.

It checks that the script runs and reports what it measured, not how fast: the figures to quote come from the
full-size run (benchmarks/README.md, "A study report of realistic size").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).with_name("study_report.py")


def test_the_study_report_benchmark_runs_and_measures(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--participants", "4", "--videos", "2", "--seconds", "4",
                           "--fps", "5", "--no-plots"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert (figures["participants"], figures["videos"], figures["stimulus_frames"]) == (4, 2, 160)
    assert figures["report_seconds"] > 0 and figures["report_cpu_seconds"] > 0 and figures["peak_rss_mib"] > 10
    assert figures["files"] > 10  # the tables, the HTML report and the BIDS files of 4 participants
