"""``emoplay study report``: a study's logs → CSV tables, PNG plots and one self-contained HTML report.

Files written to the output folder:

* ``frames.csv`` (and ``frames.parquet`` when pyarrow is installed): one row per participant × stimulus × frame;
* ``timelines.csv``: mean ± SEM probability per stimulus, group, emotion and time bin, with n;
* ``shares.csv``: share of participants with each dominant emotion per stimulus, group and second, with n;
* ``summary.csv``: per stimulus and group, mean probabilities and the peak non-neutral emotion;
* ``participants.csv``: who is in the report (pseudonyms), their group, order and calibration;
* ``participant_summary.csv``: per participant × stimulus × expression, baseline-corrected mean, peak, area,
  dominance, onset latency (``summaries.py``);
* ``group_tests.csv``: the groups compared per stimulus and expression (``group_tests.py``);
* ``isc.csv``: inter-subject correlation per stimulus, expression and group (``isc.py``);
* ``<stimulus>_timelines.png``, ``<stimulus>_shares.png``, ``<stimulus>_heatmap.png``, ``<stimulus>_isc.png``;
  ``report.html``;
* with ``--format bids``: the ``bids/`` folder (``exports.py``).

The timelines, shares and summary tables describe raw probabilities (their ``baseline`` column says "none");
the participant summaries and the tests built on them use the chosen baseline.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import StudyError
from .._events import EMOTIONS
from ..sessionlog import LogKey
from . import group_tests as tests_table
from . import isc as isc_table
from . import summaries as summary_table
from .aggregate import COLUMNS, dominant_grid, frame_rows, shares, stimulus_order, summary, timelines
from .baseline import BaselineOptions
from .exports import PYFEAT_COLUMNS, pyfeat_rows, write_bids
from .group_tests import ComparisonOptions
from .isc import IscOptions
from .logs import LeftOut, load_logs
from .recording import BASELINE
from .series import series_of
from .summaries import OnsetRule

FORMATS = ("bids",)
FRAME_COLUMNS = ("emoplay", "pyfeat")
RAW = "none"  # the baseline column of the descriptive tables


@dataclass(frozen=True)
class AnalysisOptions:
    """How the report's statistics and exports are made (the defaults are ``study report``'s)."""

    baseline: BaselineOptions = field(default_factory=BaselineOptions)
    onset: OnsetRule = field(default_factory=OnsetRule)
    tests: ComparisonOptions = field(default_factory=ComparisonOptions)
    isc: IscOptions = field(default_factory=IscOptions)
    formats: tuple[str, ...] = ()  # "bids": also write the BIDS-style folder
    frame_columns: str = "emoplay"  # "pyfeat": frames.csv under py-feat's column names
    physio_hz: float = 10.0  # the BIDS physio files' sampling frequency

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown:
            raise ValueError(f"unknown export format {unknown[0]!r}; the formats are {', '.join(FORMATS)}")
        if self.frame_columns not in FRAME_COLUMNS:
            raise ValueError(f"frame columns must be one of {', '.join(FRAME_COLUMNS)}, got {self.frame_columns!r}")
        if not self.physio_hz > 0:
            raise ValueError(f"the physio sampling frequency must be above 0, got {self.physio_hz}")


@dataclass(frozen=True)
class ReportResult:
    out: Path
    files: tuple[Path, ...]
    participants: int
    left_out: tuple[LeftOut, ...]
    notes: tuple[str, ...]
    parquet: bool


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(float(value))
    return value


def write_csv(path: Path, rows: list[dict], columns: list[str] | tuple[str, ...]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
    return path


def write_parquet(path: Path, rows: list[dict]) -> bool:
    """Write ``frames.parquet`` if pyarrow is installed; False (and nothing written) when it is not."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return False
    table = pa.table({c: [r[c] for r in rows] for c in COLUMNS})
    pq.write_table(table, path)
    return True


def _timeline_rows(lines) -> list[dict]:
    out = []
    for t in lines:
        for b, start in enumerate(t.bin_start):
            for k, e in enumerate(EMOTIONS):
                out.append({"stimulus": t.stimulus, "group": t.group, "emotion": e, "baseline": RAW,
                            "bin_start_s": round(float(start), 6),
                            "bin_end_s": round(float(start + t.bin_width), 6), "n": int(t.n[b]),
                            "mean": float(t.mean[b, k]), "sem": float(t.sem[b, k])})
    return out


def _share_rows(all_shares) -> list[dict]:
    out = []
    for s in all_shares:
        for i, second in enumerate(s.second):
            for k, e in enumerate(EMOTIONS):
                out.append({"stimulus": s.stimulus, "group": s.group, "emotion": e, "baseline": RAW,
                            "second_start": int(second),
                            "n": int(s.n[i]), "share": float(s.share[i, k])})
    return out


def _listed(files: list[Path], out: Path) -> list[str]:
    """The report's files for its file list: the bids/ folder as one entry."""
    names = [f.relative_to(out).as_posix() for f in files]
    bids = [n for n in names if n.startswith("bids/")]
    return [n for n in names if not n.startswith("bids/")] + ([f"bids/ ({len(bids)} files)"] if bids else [])


def _safe_name(stimulus: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stimulus)


def _make_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise StudyError(f"--out {out} is a file; give a folder for the report (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StudyError(f"--out {out}: cannot create this folder ({exc.strerror or exc}); choose another") from None


def build_report(logs: list[Path], key: LogKey, out: Path, *, study: str | None = None,
                 titles: dict[str, str] | None = None, bin_seconds: float = 0.5, keep_ids: bool = False,
                 plots: bool = True, analysis: AnalysisOptions | None = None) -> ReportResult:
    """Read ``logs`` with ``key`` and write the report to ``out``.

    Raises StudyError, before writing anything, if no log is usable, none holds a frame, or ``out`` cannot be
    a folder. Notes and reasons never name a log's file (it may hold a participant code): a left-out log is
    "log N", its place in ``logs``.
    """
    if not bin_seconds > 0:
        raise StudyError(f"--bin-seconds must be above 0, got {bin_seconds}")
    analysis = analysis or AnalysisOptions()
    paths = [Path(p) for p in logs]
    loaded = load_logs(paths, key, study=study, keep_ids=keep_ids)
    if not loaded.participants:
        reasons = "; ".join(f"{x.path.name}: {x.reason}" for x in loaded.left_out) or "no logs given"
        raise StudyError(f"no usable study log, so no report was written ({reasons})")
    rows = frame_rows(loaded.participants)
    if not rows:
        raise StudyError("none of the usable logs holds a frame (each session ended before the camera delivered "
                         "one), so no report was written; report them together with logs that do")
    out = Path(out)
    _make_folder(out)
    if analysis.frame_columns == "pyfeat":
        files: list[Path] = [write_csv(out / "frames.csv", pyfeat_rows(rows), PYFEAT_COLUMNS)]
    else:
        files = [write_csv(out / "frames.csv", rows, COLUMNS)]
    parquet = write_parquet(out / "frames.parquet", rows)
    if parquet:
        files.append(out / "frames.parquet")
    notes = list(loaded.notes)
    if not parquet:
        notes.append("frames.parquet was not written: pyarrow is not installed (pip install pyarrow); "
                     "frames.csv holds the same table.")

    durations: dict[str, float] = {}
    stimulus_titles: dict[str, str] = {}
    for p in loaded.participants:
        for sid, info in p.stimuli_shown().items():
            durations[sid] = max(durations.get(sid, 0.0), info["duration"])
            stimulus_titles.setdefault(sid, info["title"])
    stimulus_titles.update(titles or {})
    order = stimulus_order(rows)
    series = series_of(loaded.participants)
    isc_rows = isc_table.isc_rows(series, durations, bin_seconds, analysis.isc)
    all_lines, all_shares, sections = [], [], []
    for sid in order:
        lines = timelines(rows, sid, bin_seconds, durations.get(sid))
        these_shares = shares(rows, sid, durations.get(sid))
        all_lines += lines
        all_shares += these_shares
        if sid == BASELINE or not plots:
            continue
        from . import plots as draw

        name, title = _safe_name(sid), stimulus_titles.get(sid, sid)
        pngs = [
            (draw.timelines_png(lines, title, durations.get(sid, 0.0), out / f"{name}_timelines.png"),
             "Mean probability of each expression over the video, across participants (band: ± 1 standard "
             "error); one line per group when there are several."),
            (draw.shares_png(these_shares, title, out / f"{name}_shares.png"),
             "For each second of the video: which share of the participants mostly showed each expression."),
            (draw.heatmap_png(dominant_grid(rows, sid, bin_seconds, durations.get(sid)), title,
                              out / f"{name}_heatmap.png"),
             "One row per participant: the expression that dominated each time bin; grey where no face was seen."),
            (draw.isc_png([r for r in isc_rows if r["stimulus"] == sid], title, out / f"{name}_isc.png"),
             "Inter-subject correlation: how closely each participant's time course of an expression followed "
             "the mean of the others (bars), against what unrelated timing gives (marks: 95th percentile of "
             "the circular-shift null)."),
        ]
        files += [p for p, _ in pngs]
        sections.append({"id": sid, "title": title, "plots": pngs})
    if not plots:
        notes.append("No plots were drawn (--no-plots).")
    files.append(write_csv(out / "timelines.csv", _timeline_rows(all_lines),
                           ["stimulus", "group", "emotion", "baseline", "bin_start_s", "bin_end_s", "n", "mean",
                            "sem"]))
    files.append(write_csv(out / "shares.csv", _share_rows(all_shares),
                           ["stimulus", "group", "emotion", "baseline", "second_start", "n", "share"]))
    summary_rows = summary(rows, bin_seconds, durations)
    for row in summary_rows:
        row["stimulus_title"] = stimulus_titles.get(row["stimulus"], row["stimulus_title"])
        row["baseline"] = RAW
    participant_rows = summary_table.participant_summaries(series, analysis.baseline, bin_seconds, analysis.onset)
    files.append(write_csv(out / "participant_summary.csv", participant_rows, summary_table.COLUMNS))
    test_rows = tests_table.group_tests(participant_rows, analysis.tests)
    files.append(write_csv(out / "group_tests.csv", test_rows, tests_table.COLUMNS))
    files.append(write_csv(out / "isc.csv", isc_rows, isc_table.COLUMNS))
    missing = sorted({(r["participant"], r["stimulus"]) for r in participant_rows if r.get("mean") is None
                      and ": missing" in r["baseline"]})
    if missing:
        notes.append(f"Baseline {analysis.baseline.label}: {len(missing)} participant × stimulus pairs have no "
                     f"baseline ({', '.join(f'{p} {s}' for p, s in missing[:6])}{' …' if len(missing) > 6 else ''}); "
                     "participant_summary.csv says why, and they are left out of the group tests.")
    files.append(write_csv(out / "summary.csv", summary_rows, list(summary_rows[0])))
    people = []
    for p in loaded.participants:
        frames = p.frames()
        people.append({"label": p.label, "group": p.group, "order": " → ".join(p.order), "seed": p.seed,
                       "calibration": p.calibration, "frames": len(frames),
                       "face_found_share": round(sum(f.data["face"] for f in frames) / len(frames), 3) if frames else None,
                       "status": "complete" if p.complete else "cut short"})
    files.append(write_csv(out / "participants.csv", people,
                           ["label", "group", "order", "seed", "calibration", "frames", "face_found_share", "status"]))
    if "bids" in analysis.formats:
        files += write_bids(out / "bids", loaded.participants, loaded.study or "study", loaded.participants[0].title,
                            analysis.physio_hz)
    html = out / "report.html"
    files.append(html)
    from .html import write_html

    left_out = [{"log": f"Log {x.position} of {len(paths)}", "reason": x.reason} for x in loaded.left_out]
    write_html(html, study=loaded.study or "", title=loaded.participants[0].title, participants=people,
               left_out=left_out, notes=notes, stimuli=sections, summary_rows=summary_rows,
               files=_listed(files, out), bin_width=bin_seconds,
               test_rows=test_rows, isc_rows=isc_rows, analysis=analysis)
    return ReportResult(out, tuple(files), len(loaded.participants), tuple(loaded.left_out), tuple(notes), parquet)
