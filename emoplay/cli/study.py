"""``emoplay study check|run|report``: reaction studies from the command line.

    emoplay study check STUDY.toml
    emoplay study run STUDY.toml --participant ID --group G (--key-file K | --passphrase-env VAR)
                      [--source camera|FILE] [--log FILE] [--seed N] [--window WxH] [--autoplay]
    emoplay study report LOGS... (--key-file K | --passphrase-env VAR) --out DIR [--study STUDY.toml]
                      [--baseline none|calibration|pre-stimulus] [--baseline-mode difference|percent]
                      [--correction holm|bh] [--format bids] [--frame-columns emoplay|pyfeat]

Exit codes: 0 done; 1 the participant did not consent (nothing recorded); 2 an error (bad study file,
wrong key, no usable log...); 3 ``run``: the study was ended early (the log keeps what was recorded),
``report``: some logs were left out (the report says which and why).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import re
import sys
from pathlib import Path

from .._errors import EmoplayError, StudyError
from ._arguments import (add_detector_range_argument, add_key_arguments, add_stability_argument,
                         key_from_args)

EXIT_OK, EXIT_DECLINED, EXIT_ERROR, EXIT_PARTIAL = 0, 1, 2, 3


def _window(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d{2,5})x(\d{2,5})", text)
    if not match:
        raise argparse.ArgumentTypeError(f"invalid window size {text!r}; use WIDTHxHEIGHT, e.g. 1280x720")
    return int(match.group(1)), int(match.group(2))


def _reporting(run):
    def wrapped(args: argparse.Namespace) -> int:
        try:
            return run(args)
        except EmoplayError as exc:
            print(f"emoplay study {args.study_command}: {exc}", file=sys.stderr)
            return EXIT_ERROR

    wrapped.__name__ = run.__name__
    return wrapped


@_reporting
def run_check(args: argparse.Namespace) -> int:
    from ..study.media import probe_image, probe_video
    from ..study.spec import load_study

    spec = load_study(args.study)
    print(f"{spec.path}: study {spec.id!r} ({spec.title}), order {spec.order}, calibration "
          f"{'on, %g s' % spec.calibration_seconds if spec.calibration else 'off'}, rest {spec.rest_seconds:g} s, "
          f"fixation {spec.fixation_seconds:g} s, groups: {', '.join(spec.groups) or '(any)'}")
    for s in spec.stimuli:
        sound = f"sound {s.audio.name}" if s.audio else "no sound"
        if s.is_image:
            width, height = probe_image(s.file)
            print(f"  {s.id}: {s.title!r}, still image {width}x{height} shown {s.seconds:g} s, {sound}")
            continue
        fps, count, duration = probe_video(s.file)
        print(f"  {s.id}: {s.title!r}, {duration:.1f} s at {fps:.3g} fps, {sound}")
    return EXIT_OK


@_reporting
def run_run(args: argparse.Namespace) -> int:
    from ..study.runner import RunOptions, check_participant, run_study
    from ..study.spec import load_study

    spec = load_study(args.study)
    check_participant(spec, args.participant, args.group)
    log = args.log
    if log is None:
        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe = re.sub(r"[^A-Za-z0-9_-]", "_", args.participant)
        log = Path(f"{spec.id}-{safe}-{stamp}.emolog")
    key = key_from_args(args, confirm=True)
    options = RunOptions(participant=args.participant, group=args.group, log_path=log, source=args.source,
                         seed=args.seed, window_size=args.window, autoplay=args.autoplay, stability=args.stability,
                         detector_range=args.detector_range, detector_tiles=args.detector_tiles)
    result = run_study(spec, options, key)
    if not result.consented:
        print("the participant did not consent: nothing was recorded")
        return EXIT_DECLINED
    state = "ended early" if result.aborted else "complete"
    print(f"{state}: {len(result.completed)} of {len(spec.stimuli)} stimuli shown to the end, "
          f"{result.frames} frames recorded, calibration {result.calibration}; log: {result.log_path}")
    return EXIT_PARTIAL if result.aborted else EXIT_OK


@_reporting
def run_report(args: argparse.Namespace) -> int:
    from ..study.report import build_report

    study, titles = None, None
    if args.study:
        from ..study.spec import load_study

        spec = load_study(args.study, check_media=False)  # the videos need not be on this machine
        study, titles = spec.id, {s.id: s.title for s in spec.stimuli}
    key = key_from_args(args)
    result = build_report(args.logs, key, args.out, study=study, titles=titles, bin_seconds=args.bin_seconds,
                          keep_ids=args.keep_ids, plots=not args.no_plots, analysis=_analysis(args))
    for item in result.left_out:
        print(f"emoplay study report: left out log {item.position} ({item.path}): {item.reason}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"wrote {len(result.files)} files for {result.participants} participants to {result.out} "
          f"(open {result.out / 'report.html'})")
    return EXIT_PARTIAL if result.left_out else EXIT_OK


def _analysis(args: argparse.Namespace):
    from ..study.baseline import BaselineOptions
    from ..study.group_tests import ComparisonOptions
    from ..study.isc import IscOptions
    from ..study.report import AnalysisOptions
    from ..study.summaries import OnsetRule

    try:
        return AnalysisOptions(
            baseline=BaselineOptions(args.baseline, args.baseline_mode),
            onset=OnsetRule(args.onset_rise, args.onset_seconds),
            tests=ComparisonOptions(measure=args.test_measure, correction=args.correction, seed=args.stats_seed),
            isc=IscOptions(permutations=args.permutations, seed=args.stats_seed),
            formats=tuple(dict.fromkeys(args.format or ())), frame_columns=args.frame_columns)
    except ValueError as exc:
        raise StudyError(str(exc)) from None


def _add_analysis_arguments(p: argparse.ArgumentParser) -> None:
    from ..study.baseline import KINDS, MODES
    from ..study.stats import CORRECTIONS
    from ..study.summaries import MEASURES

    g = p.add_argument_group("statistics and exports (docs/study/GUIDE.md, section 5)")
    g.add_argument("--baseline", choices=KINDS, default="none",
                   help="correct each participant's values by the median of their calibration step or of the "
                        "rest/fixation screen before each stimulus (default: none)")
    g.add_argument("--baseline-mode", choices=MODES, default="difference",
                   help="corrected value: p - baseline, or 100 x (p - baseline) / baseline (default: difference)")
    g.add_argument("--test-measure", choices=MEASURES, default="mean",
                   help="the participant_summary column the groups are compared on (default: mean)")
    g.add_argument("--correction", choices=tuple(CORRECTIONS), default="holm",
                   help="multiple-test correction across group_tests.csv: holm (family-wise) or bh "
                        "(Benjamini-Hochberg, false discovery rate); default holm")
    g.add_argument("--onset-rise", type=float, default=0.10, metavar="P",
                   help="onset latency: rise of the probability above the baseline (default 0.10)")
    g.add_argument("--onset-seconds", type=float, default=1.0, metavar="S",
                   help="onset latency: how long the rise must last (default 1.0)")
    g.add_argument("--permutations", type=int, default=1000, help="circular shifts of the ISC null (default 1000)")
    g.add_argument("--stats-seed", type=int, default=0, help="seed of the bootstrap and the permutations (default 0)")
    g.add_argument("--format", action="append", choices=("bids",),
                   help="also export: bids (a bids/ folder with events and physio files per participant)")
    g.add_argument("--frame-columns", choices=("emoplay", "pyfeat"), default="emoplay",
                   help="frames.csv column names: emoplay's (p_happy, media_time_s) or py-feat's (happiness, "
                        "approx_time)")


def register(subparsers) -> None:
    """Add the ``study`` command group to the ``emoplay`` parser."""
    study = subparsers.add_parser("study", help="reaction studies: check, run, report",
                                  description=__doc__.split("\n\n", 1)[1],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = study.add_subparsers(dest="study_command", metavar="COMMAND", required=True)

    p = commands.add_parser("check", allow_abbrev=False, help="validate a study file and its media")
    p.add_argument("study", type=Path, metavar="STUDY.toml")
    p.set_defaults(func=run_check)

    p = commands.add_parser("run", allow_abbrev=False, help="run one participant through a study (Pygame window)")
    p.add_argument("study", type=Path, metavar="STUDY.toml")
    p.add_argument("--participant", required=True, metavar="ID", help="a pseudonymous participant code, e.g. P017")
    p.add_argument("--group", required=True, metavar="G", help="one of the study's groups")
    p.add_argument("--source", default="camera", help="'camera' (default), a camera index, or a video file played "
                                                      "as the camera (tests and demos)")
    add_detector_range_argument(p)
    p.add_argument("--log", type=Path, metavar="FILE", help="the new encrypted log (default: "
                                                            "STUDY-PARTICIPANT-DATE.emolog here)")
    p.add_argument("--seed", type=int, help="seed of a shuffled order (default: a random one; it is recorded)")
    p.add_argument("--window", type=_window, metavar="WxH", help="a window of this size instead of full screen")
    p.add_argument("--autoplay", action="store_true", help="screens advance by themselves (only with a video "
                                                           "file as --source)")
    add_stability_argument(p)
    add_key_arguments(p)
    p.set_defaults(func=run_run)

    p = commands.add_parser("report", allow_abbrev=False, help="CSV tables, plots and an HTML report from the logs")
    p.add_argument("logs", type=Path, nargs="+", metavar="LOG")
    p.add_argument("--out", type=Path, required=True, metavar="DIR")
    p.add_argument("--study", type=Path, metavar="STUDY.toml", help="report this study (default: the study most "
                                                                    "logs belong to); also gives stimulus titles")
    p.add_argument("--bin-seconds", type=float, default=0.5, help="time bin of the timelines and heatmaps "
                                                                  "(default 0.5)")
    p.add_argument("--keep-ids", action="store_true", help="use the participant ids as typed instead of P01, P02…")
    p.add_argument("--no-plots", action="store_true", help="tables and HTML only (no matplotlib needed)")
    _add_analysis_arguments(p)
    add_key_arguments(p)
    p.set_defaults(func=run_report)

