"""``emoplay explain``: saliency maps of the emotion model's decisions, as PNG overlays.

    emoplay explain IMAGE|DIR [--faces auto|crop|detect] [--out DIR] [--method rise|occlusion] [--class NAME]
    emoplay explain --class-grid --data val.npz [--out DIR] [--limit N | --per-class N]

Exit codes: 0 done; 1 no face was found in any image (nothing written); 2 bad input (a missing
or unreadable file, an empty folder, an unusable --out, a broken model), one line on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ._arguments import add_detector_range_argument, positive_int, thread_count
from .._errors import DataError, EmoplayError

EXIT_NO_FACE = 1
EXIT_BAD_INPUT = 2
CONTACT_SHEET = "contact_sheet.png"
CLASS_GRID = "saliency_by_class.png"
SHEET_LIMIT = 64  # faces on one contact sheet; every face still gets its own PNG

DESCRIPTION = """\
Show which parts of each face the emotion model's decision depends on: the predicted
probabilities and a heat map over the 48x48 face crop the model classifies.

Faces: with --faces auto (the default) a square image is taken as one face crop and any other
image (a photo, a video frame) is searched with the face detector; each result line says which.
--faces crop or --faces detect chooses for every image.

Method --method rise (the default for images): random masks. The crop is classified again
under --masks random masks, each hiding about half of an 8x8 grid of cells (smoothly, under
the model's mean grey); a pixel's heat is how much more likely the explained class (the
predicted class, or --class) was when the pixel was seen than when it was hidden. The masks
come from a fixed seed, so the same input gives the same map. 500 model runs per face.

Method --method occlusion (the default for --class-grid): a grey square (--patch pixels of the
48-pixel crop) slides over the crop in --stride steps; a pixel's heat is the mean drop of the
explained class's probability over the squares that covered it. 122 model runs per face.
On one confident face a small square rarely moves the probability, so its map is mostly
noise; random masks rank the pixels that matter far better (models/MODEL_CARD.md, Saliency:
benchmarks/saliency_faithfulness.py measures both). Averaged over many faces (--class-grid)
occlusion is steady and cheaper.

Limits:
  - coarse: nothing much smaller than a grid cell or the patch is resolved (6-8 of 48 pixels);
  - it measures sensitivity, not causation: a region the model could replace by another cue
    (both eyes, both mouth corners) shows weaker than it matters, and grey is itself an
    unusual input;
  - the shipped model averages each face with its mirror image inside the file, which pulls
    maps towards left-right symmetry;
  - only the positive part (seeing it made the class more likely) is coloured; each picture
    is scaled to its own maximum, printed in its legend.

Output with --out DIR: one PNG per face (the crop, the overlay, the 7 probabilities) and, for a
folder, contact_sheet.png. Without --out nothing is written: the results are printed.
For still images you choose; it never opens a camera.
Exit codes: 0 done; 1 no face found in any image; 2 bad input."""


def register(subparsers) -> None:
    parser = subparsers.add_parser("explain", help="saliency maps: which parts of a face drove the model's decision",
                                   description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
                                   allow_abbrev=False)
    parser.add_argument("path", nargs="?", metavar="IMAGE|DIR", help="an image, or a folder of images (not recursive)")
    parser.add_argument("--faces", default="auto", choices=("auto", "crop", "detect"),
                        help="auto (default): a square image is one face crop, any other is searched with the face "
                             "detector; crop: each image is one face crop; detect: find the faces with the face "
                             "detector and crop them the way the model expects")
    add_detector_range_argument(parser)
    parser.add_argument("--out", metavar="DIR", help="write the PNGs into DIR (created if missing)")
    parser.add_argument("--method", choices=("rise", "occlusion"),
                        help="rise: random masks (default for images); occlusion: a sliding grey square (default "
                             "for --class-grid)")
    parser.add_argument("--masks", type=positive_int, default=500, help="rise: random masks per face (default 500)")
    parser.add_argument("--patch", type=positive_int, default=8,
                        help="occlusion: occluder side in crop pixels (default 8 of 48)")
    parser.add_argument("--stride", type=positive_int, default=4,
                        help="occlusion: occluder step in crop pixels (default 4: 121 model runs per face; 2: 441)")
    parser.add_argument("--class", dest="target", metavar="NAME",
                        help="explain this class's probability instead of the predicted class's")
    parser.add_argument("--json", action="store_true", help="print one JSON object per face (or for the grid)")
    parser.add_argument("--threads", type=thread_count, default=1, help="onnxruntime threads (default 1)")
    parser.add_argument("--model", metavar="ONNX", help="an emotion model to explain (default: the shipped one)")
    grid = parser.add_argument_group("class grid (the model card's figure)")
    grid.add_argument("--class-grid", action="store_true",
                      help=f"mean saliency per class over --data (each face explains its true class); with --out "
                           f"writes DIR/{CLASS_GRID}")
    grid.add_argument("--data", metavar="PATH", help="labelled face crops: a .npz like val.npz, a fer2013.csv or "
                                                     "class folders")
    grid.add_argument("--limit", type=positive_int, metavar="N", help="use a seeded random sample of N faces")
    grid.add_argument("--per-class", type=positive_int, metavar="N",
                      help="use at most N seeded random faces of each class (every face of a smaller class)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        if args.class_grid:
            return _run_class_grid(args)
        return _run_images(args)
    except EmoplayError as e:
        print(f"emoplay explain: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ValueError as e:  # option values the library rejects (patch larger than the crop, unknown --class)
        print(f"emoplay explain: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _options(args: argparse.Namespace, faces: str, method: str):
    from ..detection import DetectorOptions
    from ..pipeline._classify import ClassifierOptions
    from ..explain._occlusion import OcclusionOptions
    from ..explain._rise import RiseOptions
    from ..explain._saliency import SaliencyOptions

    return SaliencyOptions(faces=faces, method=args.method or method, rise=RiseOptions(masks=args.masks),
                           occlusion=OcclusionOptions(patch=args.patch, stride=args.stride), target=args.target,
                           classifier=ClassifierOptions(model_path=args.model, threads=args.threads),
                           detector=DetectorOptions(video_mode=False, range=args.detector_range,
                                                    tiles=args.detector_tiles))


def _method_words(options) -> str:
    if options.method == "rise":
        return f"random masks: {options.rise.masks}"
    return f"occlusion patch {options.occlusion.patch}, stride {options.occlusion.stride}"


def _out_dir(args: argparse.Namespace, inputs: Path | None = None) -> Path | None:
    if not args.out:
        return None
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise DataError(f"--out {out} is a file, not a folder; give a folder for the PNGs")
    if inputs is not None and inputs.is_dir() and out.resolve() == inputs.resolve():
        raise DataError(f"--out {out} is the input folder; pick another one, or the pictures are read as input "
                        "next time")
    return out


def _output_stems(files: list[Path]) -> dict[Path, str]:
    """A distinct name stem per input for its PNGs: the file's stem, with its suffix when two inputs share the stem
    (a.png, a.jpg), and a number when even that is taken (a.png and a_png.bmp would both be a_png)."""
    counts: dict[str, int] = {}
    for file in files:
        counts[file.stem] = counts.get(file.stem, 0) + 1
    taken: set[str] = set()
    stems = {}
    for file in files:
        stem = file.stem if counts[file.stem] == 1 else f"{file.stem}_{file.suffix.lstrip('.')}"
        unique, n = stem, 2
        while unique in taken:
            unique, n = f"{stem}_{n}", n + 1
        taken.add(unique)
        stems[file] = unique
    return stems


def _write(out: Path, name: str, image) -> None:
    """Write one PNG into ``out``, creating the folder on the first picture (nothing is made before)."""
    from ..explain._overlay import write_png

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DataError(f"--out {out} cannot be created ({e}); pick another folder") from e
    write_png(out / name, image)


def _input_files(path: Path) -> list[Path]:
    from ..evaluation._datasets import IMAGE_SUFFIXES

    if not path.exists():
        raise DataError(f"{path} does not exist; give an image file or a folder of images")
    if path.is_file():
        return [path]
    files = sorted(p for p in path.iterdir()
                   if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise DataError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); point at a folder of "
                        "face images or at one image")
    return files


def _run_images(args: argparse.Namespace) -> int:
    from .._progress import Progress
    from ..evaluation._datasets import read_image
    from ..explain._overlay import contact_sheet, face_panel
    from ..explain._saliency import SaliencyExplainer

    if args.path is None:
        raise DataError("give an image or a folder to explain (or --class-grid --data PATH)")
    if args.data or args.limit or args.per_class:
        raise DataError("--data, --limit and --per-class go with --class-grid")
    path = Path(args.path)
    files = _input_files(path)
    out = _out_dir(args, path)
    stems = _output_stems(files)
    panels, skipped, seconds, n_faces, n_read = [], [], 0.0, 0, 0
    modes = {"crop": 0, "detect": 0}
    with SaliencyExplainer(_options(args, args.faces, "rise")) as explainer, \
            Progress("emoplay explain", len(files), "images", quiet=args.json or len(files) == 1) as progress:
        for done, file in enumerate(files, start=1):
            progress.update(done - 1)
            try:
                image = read_image(file)
            except DataError as e:
                if len(files) == 1:
                    raise
                skipped.append(f"{file.name}: {e}")
                continue
            n_read += 1
            mode = explainer.faces_mode(image.shape)
            modes[mode] += 1
            start = time.perf_counter()
            faces = explainer.explain(image)
            seconds += time.perf_counter() - start
            if not faces:
                skipped.append(f"{file.name}: no face found")
                continue
            stem = stems[file]
            for k, face in enumerate(faces, start=1):
                n_faces += 1
                label = file.name if len(faces) == 1 else f"{file.name} face {k}"
                progress.close()  # the result line replaces the counter; the next image writes it again
                _print_face(label, face, image.shape, args.json, mode)
                if out is not None:
                    panel = face_panel(face, label)
                    name = f"{stem}_saliency.png" if mode == "crop" else f"{stem}_face{k}_saliency.png"
                    _write(out, name, panel)
                    if len(panels) < SHEET_LIMIT:
                        panels.append(panel)
    for line in skipped:
        print(f"emoplay explain: skipped {line}", file=sys.stderr)
    if n_read == 0:
        raise DataError(f"{path}: none of its {len(files)} image files is readable; convert them to png")
    if n_faces == 0:  # only images searched with the detector: a crop is always one face
        print(f"emoplay explain: no face found in {path} (for face crops that fill the image use --faces crop); "
              "nothing written", file=sys.stderr)
        return EXIT_NO_FACE
    if out is not None and path.is_dir():
        _write(out, CONTACT_SHEET, contact_sheet(panels))
    if not args.json:
        how = "; ".join(f"{count} {words}" for count, words in ((modes["crop"], "read as a face crop"),
                                                                (modes["detect"], "searched with the face detector"))
                        if count)
        print(f"{n_faces} face(s) in {n_read} image(s) ({how}), {1000 * seconds / n_faces:.0f} ms per face "
              f"({_method_words(explainer.options)})" + (f"; PNGs in {out}" if out else ""))
    return 0


def _print_face(label: str, face, shape: tuple[int, ...], as_json: bool, mode: str) -> None:
    import numpy as np

    heat = face.saliency_in_image(shape)
    y, x = (int(v) for v in np.unravel_index(int(np.argmax(heat)), heat.shape))
    if as_json:
        print(json.dumps({"image": label, "faces": mode, "predicted": face.predicted, "explained": face.target,
                          "probabilities": {n: round(float(p), 4) for n, p in zip(face.class_names,
                                                                                    face.probabilities)},
                          "box": list(face.box) if face.box else None, "crop_region": list(face.region),
                          "peak_xy": [x, y], "peak": round(float(face.saliency.max()), 4)}))
        return
    probs = "  ".join(f"{n} {float(p):.2f}" for n, p in zip(face.class_names, face.probabilities))
    how = "whole image as a face crop" if mode == "crop" else "face found by the detector"
    print(f"{label} ({how}): {face.predicted} {face.confidence:.2f} | {probs} | map of {face.target}: peak at "
          f"x={x} y={y}, {float(face.saliency.max()):.3f}")


def _run_class_grid(args: argparse.Namespace) -> int:
    from ..evaluation._datasets import load_labeled_images
    from ..evaluation._evaluate import _face_crops, _to_model_labels
    from ..explain._class_grid import class_grid_image, class_saliency
    from ..explain._saliency import SaliencyExplainer

    if not args.data:
        raise DataError("--class-grid needs --data PATH (labelled face crops, e.g. val.npz)")
    if args.method == "rise":
        raise DataError("--class-grid averages occlusion maps (steady over many faces, 4x cheaper); --method rise "
                        "is for single images")
    if args.path or args.faces not in ("auto", "crop") or args.target:
        raise DataError("--class-grid takes no IMAGE|DIR, --faces or --class: it explains each face's true class")
    out = _out_dir(args, Path(args.data))
    if args.limit and args.per_class:
        raise DataError("give --limit or --per-class, not both")
    data = load_labeled_images(args.data, limit=args.limit)
    if len(data) == 0:
        raise DataError(f"{data.source} holds no images")
    if args.per_class:
        data = _per_class(data, args.per_class)
    with SaliencyExplainer(_options(args, "crop", "occlusion")) as explainer:
        labels = _to_model_labels(data, explainer.class_names)
        crops = _face_crops(data.images, explainer.classifier.info.input_size)
        result = class_saliency(explainer, crops, labels, data.source)
    if out is not None:
        _write(out, CLASS_GRID, class_grid_image(result))
    if args.json:
        print(json.dumps(result.to_dict()))
    else:
        print(result.to_text())
        if out is not None:
            print(f"\nclass grid written to {out / CLASS_GRID}")
    return 0


def _per_class(data, per_class: int):
    from ..evaluation._datasets import LabeledImages
    from ..explain._class_grid import per_class_sample

    keep = per_class_sample(data.labels, per_class)
    images = data.images[keep] if hasattr(data.images, "shape") else [data.images[i] for i in keep]
    return LabeledImages(images=images, labels=data.labels[keep], class_names=data.class_names,
                         source=f"{data.source}, at most {per_class} per class ({len(keep)} faces, seed 0)",
                         names=tuple(data.names[i] for i in keep) if data.names else ())
