"""BlazeFace's channel pads as Pad nodes or as 1x1 convolutions: onnxruntime's time per inference and per operator.

    python benchmarks/detector_graph.py [--videos DIR] [--rounds 9] [--runs 150]

Converts ``models/face_detector.tflite`` twice with ``models/convert_face_detector.py`` (needs the
``convert`` extra): as it ships (each channel pad a 1x1 convolution that copies the channels) and with
the pads kept as ``Pad`` nodes, as before. Prints one-thread CPU ms per inference of each on letterboxed
frames of the shared videos (thread CPU time, the two interleaved round after round, the median of the
rounds), the largest difference between their outputs, and onnxruntime's own profile of each: the time
of its layout conversions (``Reorder*``) and of the operators it could not fuse into the convolutions.
``--classifier`` adds the same profile of the shipped emotion model. Nothing is written outside a temporary
folder.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _converter():
    spec = importlib.util.spec_from_file_location("convert_face_detector", REPO / "models" / "convert_face_detector.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def operator_profile(path: Path, frame, runs: int, input_name: str = "input") -> dict[str, float]:
    """Microseconds per inference by operator type, from onnxruntime's profiler (which inflates small ops)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_profiling = True
    options.profile_file_prefix = str(path.with_suffix(""))
    model = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(runs):
        model.run(None, {input_name: frame})
    report = Path(model.end_profiling())
    totals: collections.Counter = collections.Counter()
    for entry in json.loads(report.read_text()):
        if entry.get("cat") == "Node" and entry["name"].endswith("_kernel_time"):
            totals[entry["args"]["op_name"]] += entry["dur"]
    report.unlink()
    return {op: us / runs for op, us in totals.most_common()}


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    from detector_int8 import letterboxed_frames, session

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=REPO.parent / "shared" / "data" / "videos")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--runs", type=int, default=150, help="inferences per model and round")
    parser.add_argument("--classifier", action="store_true",
                        help="also profile the shipped emotion model (one face, one view) the same way")
    args = parser.parse_args(argv)
    frames = letterboxed_frames(args.videos)
    convert = _converter().convert
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"1x1 convolutions (shipped)": Path(tmp) / "conv.onnx", "Pad nodes (before)": Path(tmp) / "pad.onnx"}
        for (name, path), as_conv in zip(paths.items(), (True, False)):
            convert(REPO / "models" / "face_detector.tflite", path, channel_pads_as_conv=as_conv)
        shipped = (REPO / "models" / "face_detector.onnx").read_bytes() == paths["1x1 convolutions (shipped)"].read_bytes()
        models = {name: session(path) for name, path in paths.items()}
        times: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(args.rounds):
            for name, model in models.items():
                start = time.thread_time()
                for k in range(args.runs):
                    model.run(None, {"input": frames[k % len(frames)]})
                times[name].append((time.thread_time() - start) / args.runs * 1000)
        difference = max(float(np.abs(a - b).max()) for frame in frames
                         for a, b in zip(*(m.run(None, {"input": frame}) for m in models.values())))
        profiles = {name: operator_profile(path, frames[0], args.runs) for name, path in paths.items()}
    print(f"the shipped face_detector.onnx is the 1x1-convolution conversion: {shipped}")
    for name, values in times.items():
        print(f"{name:28} {statistics.median(values):.3f} CPU ms per inference (median of {args.rounds} rounds: "
              f"{', '.join(f'{v:.2f}' for v in values)})")
    print(f"largest difference between their outputs over {len(frames)} frames: {difference:.2g}")
    if args.classifier:
        with tempfile.TemporaryDirectory() as tmp:
            copy = Path(tmp) / "emotion_cnn.onnx"
            copy.write_bytes((REPO / "models" / "emotion_cnn.onnx").read_bytes())
            face = np.random.default_rng(0).uniform(-1, 1, (1, 1, 48, 48)).astype(np.float32)
            profiles["emotion model 1.1.2 (one view)"] = operator_profile(copy, face, args.runs, "face")
    for name, profile in profiles.items():
        shown = ", ".join(f"{op} {us:.0f}" for op, us in profile.items())
        print(f"{name}: onnxruntime profile, us per inference: {shown} (sum {sum(profile.values()):.0f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
