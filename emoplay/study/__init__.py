"""Reaction studies: show participants videos, record how their faces respond, report it per stimulus.

Nothing but emotion probabilities, face events and stimulus markers is recorded, in one
encrypted session log per participant; no frame is ever kept. See ``docs/study/GUIDE.md``.

    spec = load_study("study.toml")                          # validated; StudySpecError names the field
    run_study(spec, RunOptions(participant="P017", group="18-29", log_path=Path("p017.emolog")), key)
    build_report([Path("p017.emolog"), ...], key, Path("report/"))
    build_report(logs, key, Path("report/"), analysis=AnalysisOptions(baseline=BaselineOptions("pre-stimulus")))

The heavy parts (pygame, cv2, matplotlib) load only when a study runs or a report is drawn.
"""

from __future__ import annotations

from .._lazy import lazy_names
from .spec import Stimulus, StudySpec, load_study

_LAZY = {
    "RunOptions": ".runner", "RunResult": ".runner", "run_study": ".runner",
    "ReportResult": ".report", "build_report": ".report", "AnalysisOptions": ".report",
    "BaselineOptions": ".baseline", "ComparisonOptions": ".group_tests", "IscOptions": ".isc", "OnsetRule": ".summaries",
}

__all__ = ["AnalysisOptions", "BaselineOptions", "ComparisonOptions", "IscOptions", "OnsetRule", "ReportResult",
           "RunOptions", "RunResult", "Stimulus", "StudySpec", "build_report", "load_study", "run_study"]

__getattr__ = lazy_names(__name__, _LAZY)
