"""``emoplay log ...``: make keys, show, plot, verify and prune encrypted session logs.

Every subcommand that opens a log takes ``--key-file FILE`` or
``--passphrase-env VAR``; with neither, the passphrase is read without echo
when stdin is a terminal. A passphrase is never accepted as an argument
(it would land in shell history and the process list).

Exit codes: 0 ok; 1 another emoplay error (missing file, no key given...);
2 wrong key, modified file or not an emoplay log; 3 the log was cut short
(``show`` and ``plot`` still print or draw every complete record).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Callable

from .._errors import EmoplayError, LogAuthenticationError, LogError, LogFormatError, LogTruncatedError
from .._events import EMOTIONS, UNKNOWN
from .._plotting import EMOTION_COLOURS, matplotlib_figure
from ..sessionlog import SessionLog, generate_key_file, is_session_log, read_log_header, read_session_log
from ._arguments import add_key_arguments, key_from_args

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_INVALID = 2
EXIT_TRUNCATED = 3

_LANES = (*EMOTIONS, UNKNOWN)
_MAX_PLOTTED_TRACKS = 6


# --- formatting ------------------------------------------------------------------------------


def _local_time(unix_seconds: float) -> str:
    try:
        return _dt.datetime.fromtimestamp(unix_seconds).astimezone().isoformat(sep=" ", timespec="seconds")
    except (ValueError, OverflowError, OSError):  # an authentic log whose writer had a clock in other units
        return f"at {unix_seconds!r} s (not a date: the writer's clock was not in Unix seconds)"


def _summary(log: SessionLog) -> str:
    state = "complete" if log.complete else "CUT SHORT (no final record)"
    if log.lost_bytes:
        state += f", {log.lost_bytes} bytes lost: {log.damage}"
    ended = ""
    if log.ended_at is not None:
        ended = f", closed {log.ended_at - log.started_at:.1f} s after opening"
    return (
        f"{log.path.name}: started {_local_time(log.started_at)}, {len(log.records)} records, {state}{ended}; "
        f"key: {log.header.kdf}"
    )


def _fmt_number(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _write_table(log: SessionLog, out) -> None:
    print(f"# {_summary(log)}", file=out)
    columns = ("index", "time_s", "event", "track", "emotion", "previous", "confidence")
    widths = (5, 9, 14, 5, 9, 9, 10)
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip(), file=out)
    for r in log.records:  # the stream's times, as watch and csv show them
        cells = (
            str(r.index), f"{r.timestamp:.3f}", r.type, "" if r.track_id is None else str(r.track_id),
            r.emotion or (f"{r.count} lost" if r.count else ""), r.previous or "", _fmt_number(r.confidence, 3),
        )
        print("  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip(), file=out)


def _write_jsonl(log: SessionLog, out) -> None:
    for r in log.records:
        print(json.dumps(r.to_dict(), sort_keys=True), file=out)


def _write_csv(log: SessionLog, out) -> None:
    names: list[str] = []
    for r in log.records:
        for name in r.probabilities or ():
            if name not in names:
                names.append(name)
    names.sort(key=lambda n: (_LANES.index(n) if n in _LANES else len(_LANES), n))
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "type", "timestamp", "track_id", "emotion", "previous", "confidence", "count",
                     "data", *(f"p_{n}" for n in names)])
    for r in log.records:
        probs = r.probabilities or {}
        writer.writerow([r.index, r.type, repr(round(r.timestamp, 3)), "" if r.track_id is None else r.track_id,
                         r.emotion or "", r.previous or "",  # times to the millisecond, probabilities to 4 places
                         "" if r.confidence is None else repr(round(r.confidence, 4)),
                         "" if r.count is None else r.count,  # EventsDropped: how many never reached the log
                         "" if r.data is None else json.dumps(dict(r.data), sort_keys=True),  # a study record's
                         *("" if n not in probs else repr(round(probs[n], 4)) for n in names)])


_FORMATS = {"table": _write_table, "jsonl": _write_jsonl, "csv": _write_csv}


# --- plotting --------------------------------------------------------------------------------


def _segments(log: SessionLog, t0: float, t_end: float) -> dict[int, dict]:
    """Per track: emotion segments (lane, start, end, confidence), presence spans and change times."""
    tracks: dict[int, dict] = {}
    for r in log.records:
        if r.track_id is None:
            continue  # EventsDropped: no face to draw
        tr = tracks.setdefault(r.track_id, {"segments": [], "present": [], "changes": [], "open": None, "since": None})
        t = r.timestamp - t0
        if r.type == "FaceFound":
            tr["since"] = t if tr["since"] is None else tr["since"]
        elif r.type == "FaceLost":
            if tr["open"] is not None:
                tr["segments"].append((*tr["open"][:2], t, tr["open"][2]))
                tr["open"] = None
            if tr["since"] is not None:
                tr["present"].append((tr["since"], t))
                tr["since"] = None
        elif r.type == "EmotionChanged":
            if tr["open"] is not None:
                tr["segments"].append((*tr["open"][:2], t, tr["open"][2]))
            tr["open"] = (r.emotion, t, r.confidence)
            tr["changes"].append((r.emotion, t))
            tr["since"] = t if tr["since"] is None else tr["since"]
    for tr in tracks.values():
        if tr["open"] is not None:
            tr["segments"].append((*tr["open"][:2], t_end, tr["open"][2]))
        if tr["since"] is not None:
            tr["present"].append((tr["since"], t_end))
    return tracks


def plot_timeline(log: SessionLog, out: str | os.PathLike) -> Path:
    """Draw an emotion timeline (one lane and colour per emotion, seconds on x) to a PNG."""
    # The object-oriented API with the Agg canvas: no pyplot, no global backend change.
    Figure, FigureCanvasAgg = matplotlib_figure("emoplay log plot")

    out = Path(out)
    records = log.records
    t0 = records[0].timestamp if records else 0.0
    t_end = max((r.timestamp - t0 for r in records), default=0.0)
    tracks = _segments(log, t0, t_end)
    ids = sorted(tracks, key=lambda k: (-len(tracks[k]["segments"]), k))[:_MAX_PLOTTED_TRACKS]
    ids.sort()
    lanes = list(_LANES)
    for r in records:
        if r.emotion is not None and r.emotion not in lanes:
            lanes.append(r.emotion)

    rows = max(len(ids), 1)
    fig = Figure(figsize=(10, 1.0 + 2.4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    state = "" if log.complete else "  (cut short: no final record)"
    fig.suptitle(f"emoplay session started {_local_time(log.started_at)}: {len(records)} events{state}")
    x_max = max(t_end, 1.0)
    for ax, track_id in zip(axes, ids or [None]):
        ax.set_yticks(range(len(lanes)), lanes)
        ax.set_ylim(-0.6, len(lanes) - 0.4)
        ax.invert_yaxis()
        ax.set_xlim(-0.02 * x_max, x_max * 1.02)
        ax.grid(axis="x", alpha=0.3)
        for tick, lane in zip(ax.get_yticklabels(), lanes):
            tick.set_color(EMOTION_COLOURS.get(lane, "black"))
        if track_id is None:
            ax.text(0.5, 0.5, "no events recorded", transform=ax.transAxes, ha="center", va="center")
            continue
        tr = tracks[track_id]
        for start, end in tr["present"]:
            ax.axvspan(start, end, color="#2ca02c", alpha=0.06, lw=0)
        for emotion, start, end, confidence in tr["segments"]:
            lane = lanes.index(emotion)
            alpha = 0.35 + 0.65 * max(0.0, min(1.0, confidence or 0.0))
            ax.broken_barh([(start, max(end - start, 0.0))], (lane - 0.35, 0.7),
                           color=EMOTION_COLOURS.get(emotion, "black"), alpha=alpha, lw=0)
        for emotion, t in tr["changes"]:
            ax.plot([t], [lanes.index(emotion)], marker="|", ms=14, color=EMOTION_COLOURS.get(emotion, "black"))
        ax.set_title(f"track {track_id}  (green shade: face in view; bar opacity: confidence)", loc="left",
                     fontsize=9)
    if len(tracks) > len(ids):
        fig.text(0.01, 0.005, f"{len(tracks) - len(ids)} more tracks not shown", fontsize=8)
    axes[-1].set_xlabel("seconds since the first logged event")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png")
    except OSError as exc:
        raise LogError(f"cannot write the plot to {out}: {exc.strerror or exc}; choose another --out") from exc
    return out


# --- prune -----------------------------------------------------------------------------------

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``30d`` -> seconds. Units: s, m, h, d, w."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid age {text!r}; use a number and a unit, e.g. 30d, 12h, 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


# --- subcommands -----------------------------------------------------------------------------


def _reports_errors(name: str):
    """Turn emoplay errors into one line on stderr and an exit code."""

    def wrap(run: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        def run_reporting(args: argparse.Namespace) -> int:
            try:
                return run(args)
            except LogTruncatedError as exc:
                print(f"emoplay log {name}: {exc}", file=sys.stderr)
                return EXIT_TRUNCATED
            except (LogAuthenticationError, LogFormatError) as exc:
                print(f"emoplay log {name}: {exc}", file=sys.stderr)
                return EXIT_INVALID
            except EmoplayError as exc:
                print(f"emoplay log {name}: {exc}", file=sys.stderr)
                return EXIT_ERROR

        run_reporting.__name__ = run.__name__
        run_reporting.__doc__ = run.__doc__
        return run_reporting

    return wrap


def _read_for_display(args: argparse.Namespace, name: str) -> tuple[SessionLog, int]:
    log = read_session_log(args.file, key_from_args(args), allow_truncated=True)
    if log.complete:
        return log, EXIT_OK
    print(
        f"emoplay log {name}: warning: {args.file}: file was cut short (no final record); "
        f"showing the {len(log.records)} complete records"
        + (f"; {log.lost_bytes} bytes after them could not be read ({log.damage})" if log.lost_bytes else ""),
        file=sys.stderr,
    )
    return log, EXIT_TRUNCATED


@_reports_errors("keygen")
def run_keygen(args: argparse.Namespace) -> int:
    path = generate_key_file(args.file)
    print(f"wrote a new key to {path} (owner-only). Keep it safe: without it the logs cannot be read.")
    return EXIT_OK


@_reports_errors("show")
def run_show(args: argparse.Namespace) -> int:
    log, code = _read_for_display(args, "show")
    _FORMATS[args.format](log, sys.stdout)
    return code


@_reports_errors("plot")
def run_plot(args: argparse.Namespace) -> int:
    log, code = _read_for_display(args, "plot")
    path = plot_timeline(log, args.out)
    print(f"wrote {path}")
    return code


@_reports_errors("verify")
def run_verify(args: argparse.Namespace) -> int:
    log = read_session_log(args.file, key_from_args(args))
    print(f"ok: {_summary(log)}")
    return EXIT_OK


@_reports_errors("prune")
def run_prune(args: argparse.Namespace) -> int:
    directory: Path = args.dir
    if not directory.is_dir():
        raise LogError(f"{directory} is not a directory")
    key = key_from_args(args) if args.by == "header" else None
    cutoff = time.time() - args.older_than
    logs = sorted(p for p in directory.iterdir() if p.is_file() and not p.is_symlink() and is_session_log(p))
    old: list[Path] = []
    for path in logs:
        if key is not None:
            try:
                started = read_log_header(path, key).started_at
            except LogError as exc:
                print(f"emoplay log prune: skipped {path.name}: {exc}", file=sys.stderr)
                continue
        else:
            started = path.stat().st_mtime
        if started < cutoff:
            old.append(path)
    verb = "would delete" if args.dry_run else "deleted"
    for path in old:
        if not args.dry_run:
            try:
                path.unlink()
            except OSError as exc:
                raise LogError(f"cannot delete {path}: {exc.strerror or exc}") from exc
        print(f"{verb} {path}")
    print(f"{verb} {len(old)} of {len(logs)} session logs in {directory} (by {args.by} time)")
    return EXIT_OK


def register(subparsers) -> None:
    """Add the ``log`` command group to the ``emoplay`` parser's subparsers."""
    log = subparsers.add_parser(
        "log",
        help="encrypted session logs: keygen, show, plot, verify, prune",
        description=__doc__.split("\n\n", 1)[1].replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = log.add_subparsers(dest="log_command", metavar="COMMAND", required=True)

    p = commands.add_parser("keygen", allow_abbrev=False, help="write a new random 32-byte key file (0600; never overwrites)")
    p.add_argument("file", type=Path, metavar="FILE")
    p.set_defaults(func=run_keygen)

    p = commands.add_parser("show", allow_abbrev=False, help="decrypt a log and print its events")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--format", choices=sorted(_FORMATS), default="table", help="output format (default: table)")
    add_key_arguments(p)
    p.set_defaults(func=run_show)

    p = commands.add_parser("plot", allow_abbrev=False, help="draw an emotion timeline PNG")
    p.add_argument("file", type=Path, metavar="FILE")
    p.add_argument("--out", type=Path, required=True, metavar="PNG", help="where to write the image")
    add_key_arguments(p)
    p.set_defaults(func=run_plot)

    p = commands.add_parser("verify", allow_abbrev=False, help="check that a log is complete and unmodified")
    p.add_argument("file", type=Path, metavar="FILE")
    add_key_arguments(p)
    p.set_defaults(func=run_verify)

    p = commands.add_parser("prune", allow_abbrev=False, help="delete session logs older than an age")
    p.add_argument("dir", type=Path, metavar="DIR")
    p.add_argument("--older-than", type=parse_age, required=True, metavar="AGE", help="e.g. 30d, 12h, 2w")
    p.add_argument(
        "--by",
        choices=("header", "mtime"),
        default="header",
        help="age from the authenticated start time in the header (needs the key; default) or file mtime",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    add_key_arguments(p)
    p.set_defaults(func=run_prune)
