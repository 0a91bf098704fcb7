"""How faithful single-face saliency maps are: deletion and insertion areas per method.

    python benchmarks/saliency_faithfulness.py [--fer N] [--ckplus N] [--data-root ../shared/data]

For each face (a seeded sample of FER2013 val_original.npz and of the CK+ crops) the map of the
predicted class is computed with each method, and the crop's pixels are hidden (deletion, to the
model's mean grey) or restored into a blurred copy (insertion) in the map's order, most salient
first (emoplay/explain/_faithfulness.py). Lower deletion and higher insertion areas are more
faithful; "random" is the same curve for a random pixel order, the floor a map must beat.
Prints a markdown table (and the CPU); about 1.4 s of CPU per face. ``--shard K/N`` and ``--rows FILE``
split the work over several processes; ``--table FILE...`` prints their rows' table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from emoplay.explain import OcclusionOptions, RiseOptions, SaliencyExplainer, SaliencyOptions  # noqa: E402
from emoplay.explain._faithfulness import faithfulness, random_faithfulness  # noqa: E402

RANDOM = "random pixel order"
METHODS = {"occlusion (8 px grey square, stride 4)": SaliencyOptions(method="occlusion", occlusion=OcclusionOptions()),
           "random masks (500, 8x8 grid)": SaliencyOptions(method="rise", rise=RiseOptions())}


def fer_faces(root: Path, n: int) -> np.ndarray:
    with np.load(root / "fer2013" / "val_original.npz") as data:
        images = data["images"]
    keep = np.random.default_rng(0).choice(len(images), min(n, len(images)), replace=False)  # in random order:
    return images[keep]  # a run cut short has measured a random subset


def ckplus_faces(root: Path, n: int) -> np.ndarray:
    import cv2

    files = sorted((root / "ckplus").glob("*/*.png"))
    keep = np.random.default_rng(0).choice(len(files), min(n, len(files)), replace=False)  # in random order
    crops = []
    for i in keep:
        gray = cv2.imread(str(files[i]), cv2.IMREAD_GRAYSCALE)
        crops.append(cv2.resize(gray, (48, 48), interpolation=cv2.INTER_AREA) if gray.shape != (48, 48) else gray)
    return np.stack(crops)


def measure(data: str, faces: np.ndarray, indices: np.ndarray, explainers: dict[str, SaliencyExplainer]):
    """One row per face and method (and the random order): its deletion and insertion areas and seconds."""
    classifier = next(iter(explainers.values())).classifier
    for index, crop in zip(indices, faces):
        target = None
        for name, explainer in explainers.items():
            start = time.perf_counter()
            face = explainer.explain_crops(crop[None])[0]
            seconds = time.perf_counter() - start
            target = face.class_names.index(face.target)
            score = faithfulness(classifier, crop, target, face.saliency)
            yield {"data": data, "face": int(index), "method": name, "deletion": score.deletion,
                   "insertion": score.insertion, "seconds": seconds}
        score = random_faithfulness(classifier, crop, target, seed=int(index))
        yield {"data": data, "face": int(index), "method": RANDOM, "deletion": score.deletion,
               "insertion": score.insertion, "seconds": 0.0}


def table(rows: list[dict]) -> str:
    """The markdown table of per-face rows (faces measured by every method only)."""
    runs = {name: (options.rise.runs_per_face() if options.method == "rise" else options.occlusion.runs_per_face(48))
            for name, options in METHODS.items()}
    lines = ["| faces | method | model runs per face | ms per face | deletion area (lower: better) | "
             "insertion area (higher: better) | faces where deletion beats random |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for data in dict.fromkeys(row["data"] for row in rows):
        by_method: dict[str, dict[int, dict]] = {}
        for row in rows:
            if row["data"] == data:
                by_method.setdefault(row["method"], {})[row["face"]] = row
        complete = sorted(set.intersection(*(set(faces) for faces in by_method.values())))
        n = len(complete)
        floor = np.array([by_method[RANDOM][f]["deletion"] for f in complete])
        for name in [*METHODS, RANDOM]:
            got = [by_method[name][f] for f in complete]
            deletion = np.array([r["deletion"] for r in got])
            insertion = np.array([r["insertion"] for r in got])
            is_random = name == RANDOM
            beats = "" if is_random else f"{np.mean(deletion < floor):.0%}"
            ms = "" if is_random else f"{1000 * np.mean([r['seconds'] for r in got]):.0f}"
            lines.append(f"| {data} ({n}) | {name} | {'' if is_random else runs[name]} | {ms} | "
                         f"{deletion.mean():.3f} ± {deletion.std(ddof=1) / np.sqrt(n):.3f} | "
                         f"{insertion.mean():.3f} ± {insertion.std(ddof=1) / np.sqrt(n):.3f} | {beats} |")
    return "\n".join(lines)


def shard(text: str) -> tuple[int, int]:
    k, _, n = text.partition("/")
    if not (k.isdigit() and n.isdigit() and int(k) < int(n)):
        raise argparse.ArgumentTypeError(f"--shard wants K/N with 0 <= K < N, got {text!r}")
    return int(k), int(n)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fer", type=int, default=200, help="FER2013 val faces (seeded sample; default 200)")
    parser.add_argument("--ckplus", type=int, default=200, help="CK+ crops (seeded sample; default 200)")
    parser.add_argument("--data-root", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--rows", type=Path, metavar="FILE", help="also append each face's results to FILE (JSON "
                                                                 "lines), as they come")
    parser.add_argument("--shard", type=shard, default=(0, 1), metavar="K/N",
                        help="measure every N-th face of each sample from the K-th (run N at once, then --table)")
    parser.add_argument("--table", type=Path, nargs="+", metavar="FILE",
                        help="measure nothing: print the table of the rows in these --rows files")
    args = parser.parse_args(argv)
    from emoplay._cpu import cpuinfo_field

    if args.table:
        rows = [json.loads(line) for path in args.table for line in path.read_text().splitlines() if line.strip()]
        print(table(rows))
        print(f"\nmean ± standard error over the faces; CPU: {cpuinfo_field('model name')}")
        return 0
    explainers = {name: SaliencyExplainer(options) for name, options in METHODS.items()}
    version = next(iter(explainers.values())).classifier.info.version
    k, n = args.shard
    out = args.rows.open("a") if args.rows else None
    rows = []
    try:
        for data, loader, count in (("FER2013 val", fer_faces, args.fer), ("CK+", ckplus_faces, args.ckplus)):
            if not count:
                continue
            faces = loader(args.data_root, count)
            indices = np.arange(len(faces))[k::n]
            for done, row in enumerate(measure(data, faces[k::n], indices, explainers)):
                rows.append(row)
                if out is not None:
                    out.write(json.dumps(row) + "\n")
                    out.flush()
                if (done + 1) % (25 * (len(METHODS) + 1)) == 0:
                    print(f"  {data}: {(done + 1) // (len(METHODS) + 1)}/{len(indices)} faces", file=sys.stderr,
                          flush=True)
    finally:
        for explainer in explainers.values():
            explainer.close()
        if out is not None:
            out.close()
    print(table(rows))
    print(f"\nmean ± standard error over the faces; model {version}; CPU: {cpuinfo_field('model name')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
