"""Choose the default calibration strength for an emotion model file, by the rule in calibration/baseline.py.

    python models/calibration_strength.py models/emotion_cnn.onnx [--strengths 0.25 0.5 0.75 1]

For each strength it runs ``emoplay eval --calibration per-subject`` (through the public CLI, as
release_figures.py does) on two CK+ sets made by ``make_fullframe_set.py`` and ``make_subtle_set.py``: the
faint faces (each peak face blended half and half with its sequence's relaxed first frame) and the peak
faces, both as 480 px frames through the face detector. It prints balanced accuracy (mean per-class recall)
and relaxed faces' neutral recall for each, uncalibrated first. The rule: the highest balanced accuracy on
the faint faces among the strengths tried, as long as the peak faces lose no more than 0.01 of theirs
against the best strength on them. CK+ is a development set: never train on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from release_figures import REPO, make_sets, run_eval, summarise  # noqa: E402


def run(model: Path, data: Path, strength: float | None) -> dict:
    """The summary of one set's full frames through the detector, calibrated at ``strength`` (None: uncalibrated)."""
    return summarise(run_eval(model, data, "detect", strength is not None, strength=strength))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--strengths", type=float, nargs="+", default=[0.25, 0.5, 0.75, 1.0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        sets = make_sets(args.shared, Path(tmp))
        rows = []
        for strength in [None, *args.strengths]:
            faint, peak = (run(args.model.resolve(), sets[name], strength) for name in ("subtle_frames", "frames"))
            rows.append({"strength": strength, "faint": faint, "peak": peak})
    best_peak = max(r["peak"]["balanced_accuracy"] for r in rows[1:])
    allowed = [r for r in rows[1:] if r["peak"]["balanced_accuracy"] >= best_peak - 0.01]
    choice = max(allowed, key=lambda r: r["faint"]["balanced_accuracy"])["strength"]
    if args.json:
        print(json.dumps({"rows": rows, "choice": choice}, indent=1))
        return 0
    print("| strength | faint: balanced accuracy | faint: expressive called neutral | peak: balanced accuracy "
          "| peak: accuracy | neutral recall (peak set) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        label = "uncalibrated" if r["strength"] is None else f"{r['strength']:g}"
        print(f"| {label} | {r['faint']['balanced_accuracy']:.3f} | "
              f"{100 * r['faint']['expressive_called_neutral']:.1f} % | {r['peak']['balanced_accuracy']:.3f} | "
              f"{100 * r['peak']['accuracy']:.2f} % | {r['peak']['recall']['neutral']:.2f} |")
    print(f"\nchosen strength: {choice:g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
