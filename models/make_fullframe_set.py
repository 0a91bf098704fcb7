"""Build a full-frame evaluation set from FER2013 faces, for ``emoplay eval --faces detect``.

FER2013 crops are 48x48. A webcam frame shows a face at 150-300 px inside a
larger scene, found by the detector and cropped by emoplay's own rule. This
script upscales each face to ``--side`` px (bicubic) and surrounds it with
``--context`` px of replicated border, writing the image-folder layout
``<out>/<class>/<id>.png`` that ``emoplay eval`` reads. It tests the whole
runtime path (detector box → crop framing → 48x48 → CNN) on higher-resolution
frames; it does not add real detail, so it is a check of framing, not of
camera optics.

    python models/make_fullframe_set.py --data ../shared/data/fer2013/val.npz --out runs/fullframe_val
    emoplay eval --data runs/fullframe_val --faces detect

``--data`` may also be an image folder (``<class>/<name>.png``, e.g. ../shared/data/ckplus): each image
keeps its file name, so ``emoplay eval --calibration per-subject --subject-pattern`` still finds the
subject in it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def read_gray(path: Path) -> np.ndarray:
    """An image file as gray uint8; a clear error if it cannot be read."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None:
        raise SystemExit(f"{path} is not a readable image: remove it or replace it")
    return image


def _folder_images(data: Path, limit: int) -> list[tuple[str, str, np.ndarray]]:
    found = [(path.parent.name, path.stem, read_gray(path))
             for path in sorted(p for p in data.glob("*/*") if p.suffix.lower() in IMAGE_SUFFIXES)]
    if not found:
        raise SystemExit(f"no images in {data}/<class>/: give an image folder or an .npz file")
    return found[:limit] if limit else found


def _write_frame(face: np.ndarray, path: Path, side: int, context: int) -> None:
    """The face upscaled to ``side`` px (bicubic) inside ``context`` px of replicated border, as a PNG."""
    import cv2

    big = cv2.resize(face, (side, side), interpolation=cv2.INTER_CUBIC)
    cv2.imwrite(str(path), cv2.copyMakeBorder(big, context, context, context, context, cv2.BORDER_REPLICATE))


def build(data: Path, out: Path, side: int, context: int, limit: int) -> int:
    if data.is_dir():
        images = _folder_images(data, limit)
        for name, stem, img in images:
            (out / name).mkdir(parents=True, exist_ok=True)
            _write_frame(img, out / name / f"{stem}.png", side, context)
        return len(images)
    with np.load(data) as d:
        images, labels, classes = d["images"], d["labels"], [str(c) for c in d["classes"]]
        ids = d["ids"] if "ids" in d.files else np.array([f"{i:05d}" for i in range(len(labels))])
    n = min(limit, len(labels)) if limit else len(labels)
    for name in classes:
        (out / name).mkdir(parents=True, exist_ok=True)
    for img, label, image_id in zip(images[:n], labels[:n], ids[:n]):
        _write_frame(img, out / classes[label] / f"{image_id}.png", side, context)
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="an .npz file or an image folder (default: FER2013 val.npz)",
                        default=Path(__file__).resolve().parents[2] / "shared" / "data" /
                        "fer2013" / "val.npz")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--side", type=int, default=240, help="face size in the frame, px (default 240)")
    parser.add_argument("--context", type=int, default=120, help="border around the face, px (default 120)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (0: all)")
    args = parser.parse_args(argv)
    n = build(args.data, args.out, args.side, args.context, args.limit)
    print(f"wrote {n} frames of {args.side + 2 * args.context} px to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
