"""The model card's figures for one or more emotion model files, from ``emoplay eval`` itself.

    python models/release_figures.py models/emotion_cnn.onnx [runs/other/emotion_cnn.onnx ...] [--json]

For each model it runs, through the public CLI (the same code path a user runs):

* FER2013 val (PublicTest, 3,589 crops) in its original pixels (val_original.npz: what a camera gives;
  the runtime applies the preprocessing the model file names), scored on FER2013's labels and on the FER+
  crowd's seven-class majority (``--labels ferplus``, 3,370 faces);
* CK+ crops (``--faces crop``), uncalibrated and per-subject calibrated (``--subject-pattern '^(S\\d+)_'``);
* CK+ full frames through the face detector (``--faces detect``): each crop upscaled to 240 px inside a
  480 px frame by ``make_fullframe_set.py``, uncalibrated and calibrated: the closest thing here to
  full-frame posed faces through the detector;
* CK+ subtle (``make_subtle_set.py``): each peak face blended half and half with its sequence's first,
  relaxed frame, as crops and as full frames through the detector, uncalibrated and calibrated: the
  faint expressions the model calls neutral, which CK+'s peak frames do not show.

CK+ is 66 % neutral (575 of 873), so its overall accuracy mostly says how often a relaxed face is called
neutral; the table adds the accuracy on the 298 expressive faces (292 in the subtle set), the share of
them called neutral (the neutral bias) and the mean per-class recall (balanced accuracy).
Data: ../shared/data (``--shared`` to point elsewhere). CK+ is a development set:
never train on it.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUBJECT = r"^(S\d+)_"


def run_eval(model: Path, data: Path, faces: str, calibrated: bool, labels: str = "data",
             strength: float | None = None) -> dict:
    """``emoplay eval --json`` on one set; ``strength`` (with ``calibrated``): the calibration strength to use
    instead of the model's own."""
    command = [sys.executable, "-m", "emoplay.cli", "eval", "--data", str(data), "--faces", faces, "--json",
               "--model", str(model), "--labels", labels]
    if calibrated:
        command += ["--calibration", "per-subject", "--subject-pattern", SUBJECT]
        if strength is not None:
            command += ["--calibration-strength", str(strength)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)


def summarise(report: dict) -> dict:
    names = report["class_names"]
    confusion = report["confusion"]
    neutral = names.index("neutral")
    recalls = [row[i] / sum(row) for i, row in enumerate(confusion) if sum(row)]
    expressive = [row for i, row in enumerate(confusion) if i != neutral]
    right = sum(row[i] for i, row in enumerate(confusion) if i != neutral)
    expressive_n = max(sum(sum(row) for row in expressive), 1)
    out = {
        "accuracy": report["accuracy"],
        "n": report["n"],
        "no_face": report["no_face"],
        "macro_f1": report["macro_f1"],
        "balanced_accuracy": sum(recalls) / len(recalls),
        "expressive_accuracy": right / expressive_n,
        "expressive_called_neutral": sum(row[neutral] for row in expressive) / expressive_n,
        "recall": {name: report["per_class"][name]["recall"] for name in names},
        "ece": report["ece"],
        "soft_cross_entropy": report.get("soft_cross_entropy"),
    }
    if report.get("calibrated"):
        out["uncalibrated_images"] = report["calibration"]["uncalibrated"]
    return out


def make_sets(shared: Path, workdir: Path) -> dict[str, Path]:
    """The CK+ sets the figures use, made once in ``workdir``: full frames, subtle crops, subtle full frames."""
    ck = shared / "ckplus"
    if not ck.exists():
        raise SystemExit(f"no {ck}: pass --shared pointing at the folder with fer2013/ and ckplus/")
    sets = {"frames": workdir / "ckplus_frames", "subtle": workdir / "ckplus_subtle",
            "subtle_frames": workdir / "ckplus_subtle_frames"}
    for script, source, made in (("make_fullframe_set.py", ck, sets["frames"]),
                                 ("make_subtle_set.py", ck, sets["subtle"]),
                                 ("make_fullframe_set.py", sets["subtle"], sets["subtle_frames"])):
        if not made.exists():
            subprocess.run([sys.executable, str(REPO / "models" / script), "--data", str(source), "--out", str(made)],
                           check=True, capture_output=True)
    return sets


def figures(model: Path, shared: Path, workdir: Path) -> dict:
    fer, ck = shared / "fer2013" / "val_original.npz", shared / "ckplus"
    for path in (fer, ck):
        if not path.exists():
            raise SystemExit(f"no {path}: pass --shared pointing at the folder with fer2013/ and ckplus/")
    sets = make_sets(shared, workdir)
    frames, subtle, subtle_frames = sets["frames"], sets["subtle"], sets["subtle_frames"]
    return {
        "model": str(model),
        "val": summarise(run_eval(model, fer, "crop", False)),
        "val_ferplus": summarise(run_eval(model, fer, "crop", False, labels="ferplus")),
        "ck_crops": summarise(run_eval(model, ck, "crop", False)),
        "ck_crops_calibrated": summarise(run_eval(model, ck, "crop", True)),
        "ck_frames": summarise(run_eval(model, frames, "detect", False)),
        "ck_frames_calibrated": summarise(run_eval(model, frames, "detect", True)),
        "subtle_crops": summarise(run_eval(model, subtle, "crop", False)),
        "subtle_crops_calibrated": summarise(run_eval(model, subtle, "crop", True)),
        "subtle_frames": summarise(run_eval(model, subtle_frames, "detect", False)),
        "subtle_frames_calibrated": summarise(run_eval(model, subtle_frames, "detect", True)),
    }


ROWS = (("val_ferplus", "FER2013 val, FER+ crowd majority"), ("val", "FER2013 val, FER2013 labels"), ("ck_crops", "CK+ crops"), ("ck_crops_calibrated", "CK+ crops, calibrated"),
        ("ck_frames", "CK+ full frames, detector"), ("ck_frames_calibrated", "CK+ full frames, calibrated"),
        ("subtle_crops", "CK+ subtle crops"), ("subtle_crops_calibrated", "CK+ subtle crops, calibrated"),
        ("subtle_frames", "CK+ subtle full frames, detector"),
        ("subtle_frames_calibrated", "CK+ subtle full frames, calibrated"))


def table(results: list[dict]) -> str:
    lines = []
    for result in results:
        lines += [f"{result['model']}", "",
                  "| set | accuracy | expressive faces | expressive called neutral | balanced accuracy | macro-F1 "
                  "| recall a d f h s su n |",
                  "| --- | --- | --- | --- | --- | --- | --- |"]
        for key, title in ROWS:
            r = result[key]
            recall = " ".join(f"{v:.2f}" for v in r["recall"].values())
            lines.append(f"| {title} | {100 * r['accuracy']:.2f} % | {100 * r['expressive_accuracy']:.1f} % | "
                         f"{100 * r['expressive_called_neutral']:.1f} % | {r['balanced_accuracy']:.3f} | "
                         f"{r['macro_f1']:.3f} | {recall} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="emotion model ONNX files")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        results = [figures(model.resolve(), args.shared, Path(tmp)) for model in args.models]
    print(json.dumps(results, indent=1) if args.json else table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
