"""``emoplay study report``: a study's logs → CSV tables, PNG plots and one self-contained HTML report.

Files written to the output folder:

* ``frames.csv`` (and ``frames.parquet`` when pyarrow is installed): one row per participant × stimulus × frame;
* ``timelines.csv``: mean ± SEM probability per stimulus, group, emotion and time bin, with n;
* ``shares.csv``: share of participants with each dominant emotion per stimulus, group and second, with n;
* ``summary.csv``: per stimulus and group, mean probabilities and the peak non-neutral emotion;
* ``participants.csv``: who is in the report (pseudonyms), their group, order and calibration;
* ``<stimulus>_timelines.png``, ``<stimulus>_shares.png``, ``<stimulus>_heatmap.png``; ``report.html``.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from .._errors import StudyError
from .._events import EMOTIONS
from ..sessionlog import LogKey
from .aggregate import COLUMNS, dominant_grid, frame_rows, shares, stimulus_order, summary, timelines
from .logs import LeftOut, load_logs
from .recording import BASELINE


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
        return "" if math.isnan(value) else repr(value)
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
                out.append({"stimulus": t.stimulus, "group": t.group, "emotion": e, "bin_start_s": round(float(start), 6),
                            "bin_end_s": round(float(start + t.bin_width), 6), "n": int(t.n[b]),
                            "mean": float(t.mean[b, k]), "sem": float(t.sem[b, k])})
    return out


def _share_rows(all_shares) -> list[dict]:
    out = []
    for s in all_shares:
        for i, second in enumerate(s.second):
            for k, e in enumerate(EMOTIONS):
                out.append({"stimulus": s.stimulus, "group": s.group, "emotion": e, "second_start": int(second),
                            "n": int(s.n[i]), "share": float(s.share[i, k])})
    return out


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
                 plots: bool = True) -> ReportResult:
    """Read ``logs`` with ``key`` and write the report to ``out``.

    Raises StudyError, before writing anything, if no log is usable, none holds a frame, or ``out`` cannot be
    a folder. Notes and reasons never name a log's file (it may hold a participant code): a left-out log is
    "log N", its place in ``logs``.
    """
    if not bin_seconds > 0:
        raise StudyError(f"--bin-seconds must be above 0, got {bin_seconds}")
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
    files: list[Path] = [write_csv(out / "frames.csv", rows, COLUMNS)]
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
        ]
        files += [p for p, _ in pngs]
        sections.append({"id": sid, "title": title, "plots": pngs})
    if not plots:
        notes.append("No plots were drawn (--no-plots).")
    files.append(write_csv(out / "timelines.csv", _timeline_rows(all_lines),
                           ["stimulus", "group", "emotion", "bin_start_s", "bin_end_s", "n", "mean", "sem"]))
    files.append(write_csv(out / "shares.csv", _share_rows(all_shares),
                           ["stimulus", "group", "emotion", "second_start", "n", "share"]))
    summary_rows = summary(rows, bin_seconds, durations)
    for row in summary_rows:
        row["stimulus_title"] = stimulus_titles.get(row["stimulus"], row["stimulus_title"])
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
    html = out / "report.html"
    files.append(html)
    from .html import write_html

    left_out = [{"log": f"Log {x.position} of {len(paths)}", "reason": x.reason} for x in loaded.left_out]
    write_html(html, study=loaded.study or "", title=loaded.participants[0].title, participants=people,
               left_out=left_out, notes=notes, stimuli=sections, summary_rows=summary_rows,
               files=[f.name for f in files], bin_width=bin_seconds)
    return ReportResult(out, tuple(files), len(loaded.participants), tuple(loaded.left_out), tuple(notes), parquet)
