"""How a neutral prior offset moves accuracy: FER2013 val.npz and a cross-dataset dev set (CK+ crops).

    python models/training/neutral_offset.py models/emotion_cnn.onnx --dev ../shared/data/ckplus

The model calls subtle posed expressions neutral. Dividing the neutral probability by e^d (then
renormalising) is the simplest correction of that bias (a lower final-layer bias for neutral would
make it inside the file). This prints accuracy on both sets, the neutral share of the predictions
and the recall of each class for a range of d, so d can be chosen by a stated rule (largest dev
gain that keeps val.npz >= 70 %) or rejected.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_VAL = REPO_ROOT.parent / "shared" / "data" / "fer2013" / "val.npz"


def class_probabilities(model: Path, data: Path) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The shipped runtime's probabilities for each face crop of ``data`` and the labels, in the model's classes."""
    sys.path.insert(0, str(REPO_ROOT))
    import emoplay
    from emoplay.evaluation._datasets import load_labeled_images
    from emoplay.evaluation._evaluate import _face_crops, _to_model_labels

    clf = emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(model_path=str(model)))
    images = load_labeled_images(data)
    crops = _face_crops(images.images, 48)
    probs = np.concatenate([clf.classify_crops(crops[i:i + 256]) for i in range(0, len(crops), 256)])
    return probs, _to_model_labels(images, clf.class_names), clf.class_names


def shifted(probs: np.ndarray, neutral: int, offset: float) -> np.ndarray:
    p = probs.copy()
    p[:, neutral] *= np.exp(-offset)
    return p / p.sum(1, keepdims=True)


def sweep(model: Path, val: Path, dev: Path, offsets: list[float]) -> list[dict]:
    pv, yv, names = class_probabilities(model, val)
    pd, yd, _ = class_probabilities(model, dev)
    neutral = names.index("neutral")
    rows = []
    for d in offsets:
        row = {"offset": d}
        for tag, p, y in (("val", pv, yv), ("dev", pd, yd)):
            pred = shifted(p, neutral, d).argmax(1)
            row[f"{tag}_accuracy"] = float((pred == y).mean())
            row[f"{tag}_neutral_share"] = float((pred == neutral).mean())
            row[f"{tag}_true_neutral_share"] = float((y == neutral).mean())
            row[f"{tag}_recall"] = {c: float((pred[y == i] == i).mean()) for i, c in enumerate(names) if (y == i).any()}
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--val", type=Path, default=DEFAULT_VAL)
    parser.add_argument("--dev", type=Path, required=True, help="a folder of class folders of face crops")
    parser.add_argument("--offsets", default="0,0.25,0.5,0.75,1,1.25,1.5,2")
    args = parser.parse_args(argv)
    rows = sweep(args.model, args.val, args.dev, [float(v) for v in args.offsets.split(",")])
    for row in rows:
        print(f"d={row['offset']:<5} val {row['val_accuracy']:.4f} (neutral {row['val_neutral_share']:.3f}) "
              f"dev {row['dev_accuracy']:.4f} (neutral {row['dev_neutral_share']:.3f} of predictions, "
              f"{row['dev_true_neutral_share']:.3f} true)")
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
