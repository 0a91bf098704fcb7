"""Build a CK+ development set of subtle expressions: each peak face blended with its own relaxed face.

The model's known failure is subtle posed expressions called *neutral*. CK+ has one peak frame per
sequence, the strongest moment of the expression, which even model 1.1 gets right on 4 expressive
faces of 5; it does not show the failure. But every CK+ sequence starts from the same person's relaxed
face, filmed seconds earlier by the same camera in the same light, so a pixel blend of the two,

    subtle = (1 - w) * first frame + w * peak frame        (w = --weight, 0.5 by default)

is that person's expression at a fraction of its strength: the face that a player who barely smiles or
frowns shows. It is a stand-in, not a recording: a blend is not a real intermediate frame (a head that
moved during the sequence leaves a faint double outline; most CK+ subjects barely move). The folder has
CK+'s layout (``<class>/S<subject>_<sequence>_<frame>.png``) with the peak's file name for each blend,
and ``neutral/`` copied unchanged, so that ``emoplay eval --calibration per-subject`` calibrates each
blend on its subject's other relaxed faces. Peaks whose sequence has no first frame in ``neutral/`` are
left out (the script says how many).

    python models/make_subtle_set.py --data ../shared/data/ckplus --out runs/ckplus_subtle --weight 0.5
    emoplay eval --data runs/ckplus_subtle --faces crop
    python models/make_fullframe_set.py --data runs/ckplus_subtle --out runs/ckplus_subtle_frames

CK+ is a development set (its README): evaluation and calibration only, never training data, and the
blends are CK+ images too: never train on them and never commit them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fullframe_set import IMAGE_SUFFIXES, read_gray  # noqa: E402  (the sibling script's image reading)

NEUTRAL = "neutral"


def sequence_of(stem: str) -> tuple[str, str]:
    """(subject, sequence) of a CK+ file name ``S005_001_00000011``."""
    parts = stem.split("_")
    if len(parts) < 3:
        raise SystemExit(f"{stem}: not a CK+ file name S<subject>_<sequence>_<frame>; use the CK+ crops folder")
    return parts[0], parts[1]


def blend(relaxed: np.ndarray, peak: np.ndarray, weight: float) -> np.ndarray:
    """``(1 - weight) * relaxed + weight * peak``, rounded to uint8; the images must have the same shape."""
    if relaxed.shape != peak.shape:
        raise ValueError(f"a relaxed face {relaxed.shape} and its peak {peak.shape} differ in size")
    mixed = (1.0 - weight) * relaxed.astype(np.float32) + weight * peak.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def build(data: Path, out: Path, weight: float) -> dict[str, int]:
    """Write the set; counts of blends per class, of relaxed faces copied and of peaks left out."""
    import cv2

    relaxed_dir = data / NEUTRAL
    if not relaxed_dir.is_dir():
        raise SystemExit(f"no {relaxed_dir}: give the CK+ crops folder (class folders and neutral/)")
    if out.resolve() == data.resolve() or data.resolve() in out.resolve().parents:
        raise SystemExit(f"--out {out} is inside --data {data}: write the set somewhere else")
    (out / NEUTRAL).mkdir(parents=True, exist_ok=True)
    relaxed_faces = sorted(p for p in relaxed_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    relaxed = {}
    for path in relaxed_faces:
        relaxed.setdefault(sequence_of(path.stem), path)  # the first frame of each sequence
        shutil.copyfile(path, out / NEUTRAL / path.name)
    counts: dict[str, int] = {"left_out": 0, NEUTRAL: len(relaxed_faces)}
    for class_dir in sorted(p for p in data.iterdir() if p.is_dir() and p.name != NEUTRAL):
        for path in sorted(p for p in class_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            first = relaxed.get(sequence_of(path.stem))
            if first is None:
                counts["left_out"] += 1
                continue
            (out / class_dir.name).mkdir(parents=True, exist_ok=True)
            faint = blend(read_gray(first), read_gray(path), weight)
            cv2.imwrite(str(out / class_dir.name / f"{path.stem}.png"), faint)
            counts[class_dir.name] = counts.get(class_dir.name, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "ckplus",
                        help="the CK+ crops folder (default ../shared/data/ckplus)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--weight", type=float, default=0.5, help="share of the peak frame, 0 < w <= 1 (default 0.5)")
    args = parser.parse_args(argv)
    if not 0.0 < args.weight <= 1.0:
        parser.error(f"--weight must be in (0, 1], got {args.weight}")
    counts = build(args.data, args.out, args.weight)
    left_out = counts.pop("left_out")
    blends = sum(n for name, n in counts.items() if name != NEUTRAL)
    print(f"wrote {blends} blends (w = {args.weight:g}) and {counts[NEUTRAL]} relaxed faces to {args.out}; "
          f"{left_out} peak(s) left out (no first frame of their sequence in neutral/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
