"""What each work-saving lever of the pipeline gains, and what it costs in latency and events.

    python benchmarks/pipeline_levers.py [--frames 300] [--rounds 5] [--json]
    python benchmarks/pipeline_levers.py --accuracy   # also FER2013 val accuracy per int8 kernel choice (minutes)
    python benchmarks/pipeline_levers.py --videos     # also event sequences on the shared videos, lever on/off
    python benchmarks/pipeline_levers.py --seven-bit  # also the shipped model requantised to 7-bit weights
    python benchmarks/pipeline_levers.py --fed-30fps 20 --profile  # also a Sensor fed 30 fps; cProfile

Sections:

* ``pipeline``: CPU time per frame of ``EmotionPipeline.process`` (640x480, one face: the frames of
  ``emoplay bench``) for the defaults and with one lever off at a time, and how often the emotion model ran.
  CPU time is ``time.process_time`` (every thread of this process) over ``--frames`` frames; the variants run
  interleaved, round after round, and each figure is the median of ``--rounds`` rounds. A loaded machine
  inflates wall time far more than process CPU time, and interleaving spreads what load remains evenly, so the
  ratios between variants hold where absolute figures do not: quote ``emoplay bench`` from an idle machine.
* ``copies``: the whole-frame gray conversion the pipeline no longer makes, and the face crop cut from the
  colour frame (converted alone) against the crop cut from a gray frame.
* ``int8``: the classifier's CPU ms per face with onnxruntime's fast (u8 x s8) and exact (u8 x u8) int8
  kernels, which of them ``"auto"`` picks here, and the CPU's VNNI flags; with ``--accuracy`` the FER2013
  val accuracy of each.
* ``latency``: stream time from a neutral → happy change to its ``EmotionChanged`` with ``classify_every``
  1, 2 and 3, for an abrupt change (as ``emoplay bench`` measures it) and a 10-frame cross-fade (a slow change
  whose frames each differ little: the worst case for skipping the model on a face that barely changed).
* ``seven_bit`` (``--seven-bit``): the shipped model with its weights requantised to 7 bits (what exporting
  with ``reduce_range=True`` gives) on the fast kernels: CPU ms per face and FER2013 val accuracy.
* ``fed_30fps`` (``--fed-30fps SECONDS``): ``emoplay bench``'s Sensor fed 30 fps in a fresh process,
  defaults against ``classify_every=1``, 3 interleaved runs each; with CPU ms per processed frame, since a
  loaded machine makes the sensor drop frames. ``profile`` (``--profile``): cProfile's top functions.
* ``videos`` (``--videos``): the emotion changes on each shared video with ``classify_every`` 2 and 3 against
  1: how many come with the same emotion within 0.1 s (and 1 frame), both ways.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import numpy as np

# Events and latency are counted with the responsive preset's debounce (a change decided on its dwell alone), as
# benchmarks/README.md reports them: the levers' effect on timing, not the calmer presets' waits.
STABILITY = "responsive"

VARIANTS = {  # name -> (PipelineOptions fields, ClassifierOptions fields) changed from the defaults
    "defaults": ({}, {}),
    "classify_every=1": ({"classify_every": 1}, {}),
    "classify_every=3": ({"classify_every": 3}, {}),
    "detect_every=1": ({"detect_every": 1}, {}),
    "detect_every=1, classify_every=1": ({"detect_every": 1, "classify_every": 1}, {}),
    "defaults, fast int8 kernels": ({}, {"int8_kernels": "fast"}),
    "classify_every=1, fast int8 kernels": ({"classify_every": 1}, {"int8_kernels": "fast"}),
}


def variant_options(name: str):
    import emoplay

    fields, classifier = VARIANTS[name]
    return emoplay.PipelineOptions(classifier=emoplay.ClassifierOptions(**classifier), stability=STABILITY, **fields)


def cpu_ms(run, repeats: int) -> float:
    """Median process CPU time of ``run()`` in ms, after a warm-up."""
    for _ in range(10):
        run()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        run()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def measure_pipeline(frames: list[np.ndarray], count: int, rounds: int,
                     variants: dict | None = None) -> dict[str, dict[str, float]]:
    """CPU ms per frame of each variant's ``EmotionPipeline.process`` (``variants``: name -> PipelineOptions;
    None: ``VARIANTS``), and how often the model and the detector ran, interleaved round after round."""
    import emoplay

    variants = variants or {name: variant_options(name) for name in VARIANTS}
    pipelines = {name: emoplay.pipeline.EmotionPipeline(options) for name, options in variants.items()}
    detections = dict.fromkeys(pipelines, 0)
    for name, pipeline in pipelines.items():
        def counted(*args, _detect=pipeline.detector.detect, _name=name, **kwargs):
            detections[_name] += 1
            return _detect(*args, **kwargs)

        pipeline.detector.detect = counted
    clocks = dict.fromkeys(pipelines, 0)
    per_round: dict[str, list[float]] = {name: [] for name in pipelines}
    runs = dict.fromkeys(pipelines, 0)
    detected = dict.fromkeys(pipelines, 0)
    try:
        for name, pipeline in pipelines.items():  # warm-up: the first inferences allocate
            for _ in range(20):
                pipeline.process(frames[clocks[name] % len(frames)], clocks[name] / 30)
                clocks[name] += 1
        for _ in range(rounds):
            for name, pipeline in pipelines.items():
                before, detected_before = pipeline._reuse.model_runs, detections[name]
                start = time.process_time()
                for _ in range(count):
                    k = clocks[name]
                    pipeline.process(frames[k % len(frames)], k / 30)
                    clocks[name] = k + 1
                per_round[name].append((time.process_time() - start) * 1000 / count)
                runs[name] += pipeline._reuse.model_runs - before
                detected[name] += detections[name] - detected_before
    finally:
        for pipeline in pipelines.values():
            pipeline.close()
    return {name: {"cpu_ms_per_frame": statistics.median(v), "model_runs_per_frame": runs[name] / (count * rounds),
                   "detector_runs_per_frame": detected[name] / (count * rounds)} for name, v in per_round.items()}


def measure_copies(frames: list[np.ndarray], repeats: int) -> dict[str, float]:
    import emoplay
    from emoplay._frames import to_gray

    frame = frames[0]
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        boxes = detector.detect(frame, color_order="bgr").boxes[:1]
    gray = to_gray(frame)
    with emoplay.pipeline.EmotionClassifier() as classifier:
        assert np.array_equal(classifier.crop_faces(frame, boxes), classifier.crop_faces(gray, boxes))
        return {"gray_of_whole_frame_ms": cpu_ms(lambda: to_gray(frame), repeats),
                "crop_from_gray_frame_ms": cpu_ms(lambda: classifier.crop_faces(gray, boxes), repeats),
                "crop_from_colour_frame_ms": cpu_ms(lambda: classifier.crop_faces(frame, boxes), repeats)}


def measure_int8(frames: list[np.ndarray], repeats: int, rounds: int, accuracy: bool) -> dict:
    import emoplay
    from emoplay._cpu import VNNI_FLAGS, cpu_flags

    flags = cpu_flags() or frozenset()
    out: dict = {"vnni_flags": sorted(f for f in VNNI_FLAGS if f in flags) or "none",
                 "avx512f": "avx512f" in flags, "avx2": "avx2" in flags}
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        boxes = detector.detect(frames[0], color_order="bgr").boxes[:1]
    classifiers = {k: emoplay.pipeline.EmotionClassifier(emoplay.ClassifierOptions(int8_kernels=k))
                   for k in ("fast", "exact")}
    try:
        with emoplay.pipeline.EmotionClassifier() as auto:
            out["auto_picks"] = auto.int8_kernels
            out["model"] = f"{auto.info.version}: {auto.info.architecture}"
        crop = classifiers["fast"].crop_faces(frames[0], boxes)
        per_round: dict[str, list[float]] = {k: [] for k in classifiers}
        for _ in range(rounds):
            for kind, classifier in classifiers.items():
                per_round[kind].append(cpu_ms(lambda: classifier.classify_crops(crop), repeats))
        for kind, v in per_round.items():
            out[f"{kind}_cpu_ms_per_face"] = statistics.median(v)
        if accuracy:
            out.update(_val_accuracy(classifiers))
    finally:
        for classifier in classifiers.values():
            classifier.close()
    return out


def _val_accuracy(classifiers: dict) -> dict[str, float]:
    from bench import shared_dir

    with np.load(shared_dir() / "data" / "fer2013" / "val.npz") as d:
        images, labels = d["images"], d["labels"]
    preds = {k: np.concatenate([c.classify_crops(images[i:i + 256]).argmax(1) for i in range(0, len(images), 256)])
             for k, c in classifiers.items()}
    out = {f"{k}_val_accuracy": float(np.mean(p == labels)) for k, p in preds.items()}
    out["fast_agrees_with_exact"] = float(np.mean(preds["fast"] == preds["exact"]))
    return out


def seven_bit_copy(path: str, out: str) -> str | None:
    """A copy of an int8 QDQ model with its weights requantised to 7 bits ([-64, 63], scales doubled; int32
    biases halved to match): what exporting with ``reduce_range=True`` gives, up to rounding, without retraining
    or recalibrating. Needs the ``onnx`` package (a test dependency)."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(path)
    initializers = {i.name: i for i in proto.graph.initializer}
    weights = [numpy_helper.to_array(i) for i in proto.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    if not weights or all(w.min() >= -64 and w.max() <= 63 for w in weights):
        return None  # a float model, or one whose weights are already 7-bit
    for node in proto.graph.node:
        if node.op_type != "DequantizeLinear" or node.input[0] not in initializers:
            continue
        values = numpy_helper.to_array(initializers[node.input[0]])
        scale = numpy_helper.to_array(initializers[node.input[1]])
        if values.dtype == np.int8:
            values = np.clip(np.round(values.astype(np.float32) / 2), -64, 63).astype(np.int8)
        elif values.dtype == np.int32:
            values = np.round(values.astype(np.float64) / 2).astype(np.int32)
        else:
            continue
        initializers[node.input[0]].CopyFrom(numpy_helper.from_array(values, node.input[0]))
        initializers[node.input[1]].CopyFrom(numpy_helper.from_array((scale * 2).astype(scale.dtype), node.input[1]))
    onnx.save(proto, out)
    return out


def measure_seven_bit(frames: list[np.ndarray], repeats: int, rounds: int) -> dict:
    """The shipped model with 7-bit weights, on the fast kernels: CPU ms per face and FER2013 val accuracy."""
    import tempfile

    import emoplay

    with emoplay.pipeline.EmotionClassifier() as shipped, tempfile.TemporaryDirectory() as tmp:
        path = seven_bit_copy(shipped.info.path, f"{tmp}/seven_bit.onnx")
        if path is None:
            return {"note": "the shipped model has no full-range int8 weights: nothing to requantise"}
        fast = {"shipped": emoplay.ClassifierOptions(int8_kernels="fast"),
                "7-bit": emoplay.ClassifierOptions(model_path=path, int8_kernels="fast")}
        classifiers = {k: emoplay.pipeline.EmotionClassifier(o) for k, o in fast.items()}
        try:
            crop = np.full((1, 48, 48), 128, np.uint8)
            per_round: dict[str, list[float]] = {k: [] for k in classifiers}
            for _ in range(rounds):
                for kind, classifier in classifiers.items():
                    per_round[kind].append(cpu_ms(lambda: classifier.classify_crops(crop), repeats))
            out = {f"{k}_fast_cpu_ms_per_face": statistics.median(v) for k, v in per_round.items()}
            accuracy = _val_accuracy({"fast": classifiers["7-bit"], "exact": classifiers["shipped"]})
            out["7-bit_fast_val_accuracy"] = accuracy["fast_val_accuracy"]
            return out
        finally:
            for classifier in classifiers.values():
                classifier.close()


def measure_latency() -> dict[str, dict[str, float]]:
    import emoplay
    from bench import BenchSettings, _confident_fer_faces, measure_event_latency, shared_dir

    faces = _confident_fer_faces(shared_dir() / "data" / "fer2013" / "val.npz", 5)
    out = {}
    for every in (1, 2, 3):
        options = emoplay.PipelineOptions(classify_every=every, stability=STABILITY)
        abrupt, _ = measure_event_latency(BenchSettings(), options)
        fades = [_fade_latency(options, n, h) for n, h in zip(faces["neutral"], faces["happy"])]
        out[f"classify_every={every}"] = {"abrupt_ms_median": abrupt["event_latency_ms_median"],
                                          "abrupt_ms_max": abrupt["event_latency_ms_max"],
                                          "fade_ms_median": statistics.median(fades), "fade_ms_max": max(fades)}
    return out


def _fade_latency(options, neutral: np.ndarray, happy: np.ndarray, fade_frames: int = 10) -> float:
    """ms from the start of a ``fade_frames`` cross-fade neutral → happy to the EmotionChanged to happy."""
    import emoplay

    start = 30  # one second of neutral first
    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        for k in range(start + 60):
            w = min(max((k - start + 1) / fade_frames, 0.0), 1.0)
            frame = neutral if w == 0 else (happy if w == 1 else
                                            np.round((1 - w) * neutral + w * happy).astype(np.uint8))
            for event in pipeline.process(frame, k / 30).events:
                if k >= start and getattr(event, "current", None) == "happy":
                    return (event.timestamp - start / 30) * 1000
    raise RuntimeError("no EmotionChanged to happy within 2 s of the fade")


def measure_fed_30fps(seconds: float, rounds: int) -> dict[str, dict[str, float]]:
    """``emoplay bench``'s fresh-process Sensor fed 30 fps, defaults against ``classify_every=1``, interleaved.
    Also CPU ms per processed frame: a loaded machine makes the sensor drop frames, which lowers the share."""
    from bench import measure_fed_30fps as fed

    runs: dict[str, list[dict]] = {"defaults": [], "classify_every=1": []}
    for _ in range(rounds):
        runs["defaults"].append(fed(seconds))
        runs["classify_every=1"].append(fed(seconds, classify_every=1))
    out = {}
    for name, results in runs.items():
        share = [r["cpu_share_30fps_percent"] for r in results]
        processed = [r["frames_processed_30fps_percent"] for r in results]
        out[name] = {"cpu_share_percent_median": statistics.median(share),
                     "frames_processed_percent_median": statistics.median(processed),
                     "cpu_ms_per_processed_frame_median": statistics.median(
                         1000 * s / (30 * p) for s, p in zip(share, processed))}
    return out


def profile(frames: list[np.ndarray], count: int = 300, top: int = 12) -> list[str]:
    """cProfile of ``count`` frames through a default pipeline: the functions with the most own time."""
    import cProfile
    import io
    import pstats

    import emoplay

    with emoplay.pipeline.EmotionPipeline() as pipeline:
        for k in range(10):
            pipeline.process(frames[k % len(frames)], k / 30)
        profiler = cProfile.Profile()
        profiler.enable()
        for k in range(10, 10 + count):
            pipeline.process(frames[k % len(frames)], k / 30)
        profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    return [line for line in text.getvalue().splitlines() if line.strip()]


def compare_videos() -> dict[str, dict]:
    import emoplay
    from bench import shared_dir

    out = {}
    for path in sorted(p for p in (shared_dir() / "data" / "videos").iterdir() if p.suffix in (".mp4", ".mov")):
        frames = read_frames(path)
        changes = {every: _emotion_changes(emoplay.PipelineOptions(classify_every=every, stability=STABILITY), frames)
                   for every in (1, 2, 3)}
        ref = changes[1]
        frame_s = (frames[-1][1] - frames[0][1]) / max(len(frames) - 1, 1)
        row: dict = {"changes_classify_every_1": len(ref)}
        for every in (2, 3):
            got = changes[every]
            row[f"classify_every={every}"] = {
                "changes": len(got), "matched_0.1s": _matched(ref, got, 0.1), "matched_back_0.1s": _matched(got, ref, 0.1),
                "matched_1_frame": _matched(ref, got, frame_s + 1e-6)}
        out[path.name] = row
    return out


def read_frames(path) -> list[tuple[np.ndarray, float]]:
    """Every frame of a video with its stream time, in memory."""
    from emoplay.sensor._sources import EndOfStream, VideoFileSource

    frames = []
    source = VideoFileSource(path)
    source.open()
    try:
        while True:
            frame = source.read(1.0)
            frames.append((frame.pixels.copy(), frame.timestamp))
    except EndOfStream:
        pass
    finally:
        source.close()
    return frames


def events_of(options, frames) -> list:
    """Every event of ``frames`` ((pixels, stream time) pairs) through a fresh pipeline with ``options``."""
    import emoplay

    with emoplay.pipeline.EmotionPipeline(options) as pipeline:
        return [e for pixels, t in frames for e in pipeline.process(pixels, t).events]


def _emotion_changes(options, frames) -> list[tuple[str, float]]:
    import emoplay

    return [(e.current, e.timestamp) for e in events_of(options, frames) if isinstance(e, emoplay.EmotionChanged)]


def _matched(reference: list[tuple[str, float]], other: list[tuple[str, float]], tolerance_s: float) -> int:
    """How many of ``reference``'s changes have one in ``other`` to the same emotion within ``tolerance_s``
    (each used once)."""
    used: set[int] = set()
    for emotion, t in reference:
        for j, (other_emotion, other_t) in enumerate(other):
            if j not in used and other_emotion == emotion and abs(other_t - t) <= tolerance_s:
                used.add(j)
                break
    return len(used)


def main(argv: list[str] | None = None) -> int:
    from bench import bench_frames

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per variant and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--accuracy", action="store_true", help="FER2013 val accuracy per int8 kernel choice")
    parser.add_argument("--videos", action="store_true", help="event sequences on the shared videos")
    parser.add_argument("--fed-30fps", type=float, default=0, metavar="SECONDS",
                        help="also a Sensor fed 30 fps for SECONDS per run, 3 runs each, defaults and classify_every=1")
    parser.add_argument("--profile", action="store_true", help="also cProfile's top functions for 300 frames")
    parser.add_argument("--seven-bit", action="store_true",
                        help="the shipped model requantised to 7-bit weights: speed and val accuracy (needs onnx)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    frames, where = bench_frames()
    sections = {"pipeline": lambda: measure_pipeline(frames, args.frames, args.rounds),
                "copies": lambda: measure_copies(frames, args.frames),
                "int8": lambda: measure_int8(frames, max(args.frames // 3, 30), args.rounds, args.accuracy),
                "latency": measure_latency}
    if args.videos:
        sections["videos"] = compare_videos
    if args.fed_30fps:
        sections["fed_30fps"] = lambda: measure_fed_30fps(args.fed_30fps, 3)
    if args.profile:
        sections["profile"] = lambda: profile(frames)
    if args.seven_bit:
        sections["seven_bit"] = lambda: measure_seven_bit(frames, max(args.frames // 3, 30), args.rounds)
    report = {"frames": where}
    for name, measure in sections.items():
        report[name] = measure()
        print(f"{name}: {json.dumps(report[name])}", file=sys.stderr, flush=True)  # progress: the slow parts
    print(json.dumps(report, indent=1) if args.json else _table(report))
    return 0


def _table(report: dict) -> str:
    lines = [f"frames: {report['frames']}", "", f"{'pipeline variant':36} {'CPU ms/frame':>12} {'model runs/frame':>17}"]
    for name, row in report["pipeline"].items():
        lines.append(f"{name:36} {row['cpu_ms_per_frame']:12.3f} {row['model_runs_per_frame']:17.2f}")
    for section in ("copies", "int8", "seven_bit", "latency", "videos", "fed_30fps"):
        if section in report:
            lines += ["", f"{section}:"] + [f"  {k}: {v}" for k, v in report[section].items()]
    if "profile" in report:
        lines += ["", "profile:"] + report["profile"]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
