"""``emoplay eval``: accuracy of the emotion model on a labelled FER2013-style data set.

    emoplay eval --data PATH [--usage PublicTest|PrivateTest|Training] [--faces crop|detect]
                 [--json] [--plot FILE] [--limit N] [--threads 1] [--flip-average] [--robustness]
                 [--model ONNX] [--labels data|ferplus [--votes CSV]] [--calibration per-subject|per-subject-auto --subject-pattern REGEX
                 [--calibration-strength S]]

Exit codes: 0 done; 2 an emoplay error (the data or the --plot path cannot be used, a broken
model file), printed as one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._arguments import add_detector_range_argument, positive_int, thread_count
from .._errors import DataError, EmoplayError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "eval",
        help="measure the emotion model on labelled images (FER2013 npz, csv or class folders)",
        description="Measure the emotion model on labelled face images: accuracy, macro-F1, per-class "
                    "precision and recall, confusion matrix, calibration (ECE) and classifier time.",
    )
    parser.add_argument("--data", required=True, metavar="PATH",
                        help="a .npz (images, labels, classes), the original fer2013.csv, or a folder of "
                             "class folders <class>/<image> (for <split>/<class>/<image> give the split folder)")
    parser.add_argument("--usage", default="PublicTest", choices=("PublicTest", "PrivateTest", "Training"),
                        help="which split of a fer2013.csv to use (default: PublicTest)")
    parser.add_argument("--faces", default="crop", choices=("crop", "detect"),
                        help="crop: each image is a face crop (FER2013 images are); detect: each image is a "
                             "full frame, the face detector picks the face, images without one count as misses")
    add_detector_range_argument(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the text report")
    parser.add_argument("--plot", metavar="FILE", help="also write the confusion matrix as a PNG")
    parser.add_argument("--limit", type=positive_int, metavar="N",
                        help="evaluate a seeded random sample of at most N images")
    parser.add_argument("--threads", type=thread_count, default=1, help="classifier threads (default: 1)")
    parser.add_argument("--flip-average", action=argparse.BooleanOptionalAction, default=None,
                        help="average the predictions of each face and its mirror image (2x the cost); "
                             "default: as the model file says (on for the shipped model)")
    parser.add_argument("--robustness", action="store_true",
                        help="also measure accuracy under brightness, contrast, noise, blur, rotation and "
                             "occlusion changes")
    parser.add_argument("--labels", default="data", choices=("data", "ferplus"),
                        help="data: the data set's own labels; ferplus: the FER+ crowd's seven-class majority for "
                             "FER2013 images (an .npz with ids), with soft figures against the vote shares")
    parser.add_argument("--votes", metavar="CSV",
                        help="with --labels ferplus: the FER+ votes CSV (default: ferplus_votes.csv beside --data)")
    parser.add_argument("--model", metavar="ONNX", help="an emotion model to evaluate (default: the shipped one)")
    parser.add_argument("--calibration", choices=("per-subject", "per-subject-auto"),
                        help="calibrate each image on its subject's other neutral images (never itself), as the "
                             "runtime calibrates a player: per-subject uses the images labelled neutral, "
                             "per-subject-auto the ones the model calls neutral (what automatic mode sees)")
    parser.add_argument("--subject-pattern", metavar="REGEX",
                        help=r"with --calibration: the subject of an image is the first group of REGEX searched "
                             r"in its file name, e.g. '^(S\d+)_' for S005_001_00000001.png")
    parser.add_argument("--calibration-strength", type=_strength, default=None, metavar="S",
                        help="how much of the baseline is taken out, in (0, 1] (default: the runtime's, 0.75 for "
                             "per-subject, 0.5 for per-subject-auto)")
    parser.set_defaults(func=run)


def _strength(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1], got {text!r}") from None
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {value:g}")
    return value


def _check_calibration_args(args: argparse.Namespace) -> str | None:
    """A message when the calibration options do not go together, else None."""
    if args.calibration and not args.subject_pattern:
        return r"--calibration needs --subject-pattern REGEX (its first group is the subject id, e.g. '^(S\d+)_')"
    if args.subject_pattern and not args.calibration:
        return "--subject-pattern is only used with --calibration per-subject"
    if args.votes and args.labels != "ferplus":
        return "--votes is only used with --labels ferplus"
    if args.calibration and args.robustness:
        return "--calibration and --robustness cannot be combined: run them separately"
    return None


def run(args: argparse.Namespace) -> int:
    problem = _check_calibration_args(args)
    if problem:
        print(f"emoplay eval: {problem}", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except EmoplayError as e:
        print(f"emoplay eval: {e}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..pipeline._classify import ClassifierOptions, EmotionClassifier
    from ..evaluation._datasets import load_labeled_images
    from ..evaluation._evaluate import evaluate, plot_confusion

    if args.plot and not Path(args.plot).resolve().parent.is_dir():
        raise DataError(f"--plot {args.plot}: the folder {Path(args.plot).resolve().parent} does not exist; "
                        "create it or pick another file")
    if args.plot:
        from .._plotting import matplotlib_figure

        matplotlib_figure("emoplay eval --plot")  # a missing extra fails now, not after the evaluation
    data = load_labeled_images(args.data, usage=args.usage, limit=args.limit)
    crowd = {}
    if args.labels == "ferplus":
        from ..evaluation.ferplus import crowd_majority_set

        votes = Path(args.votes) if args.votes else Path(args.data).resolve().parent / "ferplus_votes.csv"
        data, crowd["crowd_votes"] = crowd_majority_set(data, votes)
    options = ClassifierOptions(model_path=args.model, threads=args.threads, flip_average=args.flip_average)
    calibration = dict(calibration=args.calibration, subject_pattern=args.subject_pattern,
                       calibration_strength=args.calibration_strength, **crowd)
    from .._progress import Progress

    with EmotionClassifier(options) as classifier, \
            Progress("emoplay eval", len(data), "faces", quiet=args.json) as progress:
        calibration["progress"] = progress.update  # a counter on a terminal; nothing in a pipe or with --json
        if args.faces == "detect":
            from ..detection import DetectorOptions, FaceDetector

            options = DetectorOptions(video_mode=False, range=args.detector_range, tiles=args.detector_tiles)
            with FaceDetector(options) as detector:
                report = evaluate(data, classifier, faces="detect", detector=detector, robustness=args.robustness,
                                  **calibration)
        else:
            report = evaluate(data, classifier, faces="crop", robustness=args.robustness, **calibration)
    if args.plot:
        try:
            plot_confusion(report, args.plot)
        except OSError as e:
            raise DataError(f"--plot {args.plot} cannot be written ({e})") from e
    if args.json:
        print(json.dumps(report.to_dict(), indent=None))
    else:
        print(report.to_text())
        if args.plot:
            print(f"\nconfusion matrix written to {args.plot}")
    return 0
