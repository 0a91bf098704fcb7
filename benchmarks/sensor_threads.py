"""Where a Sensor fed 30 fps spends its CPU: per thread, and cProfile of its worker thread.

    python benchmarks/sensor_threads.py [--seconds 20] [--top 15] [--opencv-threads 1] [--no-profile] [--models]
    python benchmarks/sensor_threads.py --model-file A.onnx --model-file B.onnx [--rounds 2] [--seconds 15]

Feeds the bench's camera-like frames (``bench.camera_like_loop``) to a memory-source Sensor at
30 fps, polling each frame as a game loop does. After a 5 s warm-up it reads each thread's CPU time from
/proc/self/task (Linux) and prints ms per processed frame; then, in a second run, it profiles the
sensor's worker thread with cProfile and prints the top functions by own time. ``--models`` adds a run
that splits the worker's CPU (``time.thread_time``, no profiler) into the two models' inference calls,
the rest of ``EmotionPipeline.process``, and the worker's loop outside it: how often each model ran per
frame and what one call cost inside a Sensor, where a model call finds colder caches than in a tight loop.

``--model-file`` (repeatable) compares emotion model files instead: each round feeds a Sensor with each file in
turn (``ClassifierOptions.model_path``, nothing in models/ is touched) and prints its CPU ms per frame, all
threads; then the median per file. This machine's speed drifts within minutes, so only such interleaved runs
measure what a model changes.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import statistics
import threading
import time

import bench
from emoplay.pipeline._classify import ClassifierOptions
from emoplay.pipeline._pipeline import PipelineOptions
from emoplay.sensor._pipeline_slot import PipelineSlot
from emoplay.sensor._sensor import Sensor, SensorOptions

WARMUP_S = 5.0


def thread_cpu_s() -> dict[str, float]:
    out = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/self/task/{tid}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue  # the thread ended
        out[f"{tid} {name}"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return out


def feed(seconds: float, on_marks=None, model_file: str | None = None) -> int:
    frames = bench.camera_like_loop(bench.bench_frames()[0])
    pipeline = PipelineOptions(classifier=ClassifierOptions(model_path=model_file))
    sensor = Sensor(SensorOptions(source="memory", pipeline=pipeline))
    sensor.start()
    stop, start, marks = threading.Event(), time.perf_counter(), {}

    def tick(_k: int) -> None:
        sensor.poll()
        now = time.perf_counter() - start
        if "before" not in marks and now >= WARMUP_S:
            marks.update(before=thread_cpu_s(), frames0=sensor.frames_processed)
        if now >= WARMUP_S + seconds:
            marks.update(after=thread_cpu_s(), frames1=sensor.frames_processed)
            stop.set()

    bench._feed(sensor, frames, stop, tick)
    sensor.close()
    if on_marks:
        on_marks(marks)
    return marks["frames1"] - marks["frames0"]


class _TimedSession:
    """An onnxruntime session whose ``run`` calls add their thread CPU time to ``totals[key]``."""

    def __init__(self, session, key: str, totals: dict) -> None:
        self._session, self._key, self._totals = session, key, totals

    def __getattr__(self, name: str):
        return getattr(self._session, name)

    def run(self, *args, **kwargs):
        start = time.thread_time()
        try:
            return self._session.run(*args, **kwargs)
        finally:
            if self._totals["counting"]:
                self._totals[self._key] += time.thread_time() - start
                self._totals[self._key + "_calls"] += 1


def model_split(seconds: float) -> dict[str, float]:
    """Worker CPU ms per processed frame after the warm-up: detector and classifier inference and the rest of
    process(); model calls per frame and CPU ms per call."""
    totals = dict.fromkeys(("detector", "detector_calls", "classifier", "classifier_calls", "process", "frames"), 0)
    totals["counting"] = False
    ensure = PipelineSlot.ensure

    def timed(self):
        pipeline = ensure(self)
        if not isinstance(pipeline.detector._session, _TimedSession):
            pipeline.detector._session = _TimedSession(pipeline.detector._session, "detector", totals)
            pipeline.classifier._session = _TimedSession(pipeline.classifier._session, "classifier", totals)
            process, created = pipeline.process, time.perf_counter()

            def timed_process(*args, **kwargs):
                totals["counting"] = time.perf_counter() - created >= WARMUP_S  # as feed()'s warm-up
                start = time.thread_time()
                try:
                    return process(*args, **kwargs)
                finally:
                    if totals["counting"]:
                        totals["process"] += time.thread_time() - start
                        totals["frames"] += 1
            pipeline.process = timed_process
        return pipeline

    marks: dict = {}
    PipelineSlot.ensure = timed
    try:
        feed(seconds, marks.update)
    finally:
        PipelineSlot.ensure = ensure
    worker = max((cpu - marks["before"].get(key, 0.0) for key, cpu in marks["after"].items()))
    n = totals["frames"]
    per = {key: 1000 * totals[key] / n for key in ("detector", "classifier", "process")}
    return {"frames": n, "detector_ms": per["detector"], "classifier_ms": per["classifier"],
            "process_rest_ms": per["process"] - per["detector"] - per["classifier"],
            "process_ms": per["process"],
            "detector_calls_per_frame": totals["detector_calls"] / n,
            "classifier_calls_per_frame": totals["classifier_calls"] / n,
            "detector_ms_per_call": 1000 * totals["detector"] / max(totals["detector_calls"], 1),
            "classifier_ms_per_call": 1000 * totals["classifier"] / max(totals["classifier_calls"], 1),
            "worker_ms_after_warmup": 1000 * worker / (marks["frames1"] - marks["frames0"])}


def all_threads_ms(marks: dict) -> float:
    """CPU ms per processed frame, all threads, between feed()'s marks."""
    used = sum(max(cpu - marks["before"].get(key, 0.0), 0.0) for key, cpu in marks["after"].items())
    return 1000 * used / (marks["frames1"] - marks["frames0"])


def compare_models(files: list[str], rounds: int, seconds: float) -> int:
    print(f"frames: {bench.bench_frames()[1]}")
    figures: dict[str, list[float]] = {f: [] for f in files}
    for r in range(1, rounds + 1):
        for model_file in files:
            marks: dict = {}
            feed(seconds, marks.update, model_file)
            figures[model_file].append(all_threads_ms(marks))
            print(f"round {r}, {model_file}: {figures[model_file][-1]:.2f} CPU ms per frame, all threads")
    for model_file, values in figures.items():
        print(f"median of {rounds}, {model_file}: {statistics.median(values):.2f} CPU ms per frame "
              f"({100 * statistics.median(values) * bench.FPS / 1000:.1f} % of a core at {bench.FPS:g} fps)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--opencv-threads", type=int, default=0, metavar="N",
                        help="cv2.setNumThreads(N) first (process-wide; 0: OpenCV's default, one per core)")
    parser.add_argument("--no-profile", action="store_true", help="only the per-thread figures")
    parser.add_argument("--models", action="store_true",
                        help="also split the worker's CPU into model calls and the rest (a third run)")
    parser.add_argument("--model-file", action="append", default=[], metavar="ONNX",
                        help="compare these emotion model files, interleaved (repeat the option)")
    parser.add_argument("--rounds", type=int, default=2, help="with --model-file: runs of each file")
    args = parser.parse_args(argv)
    if args.model_file:
        return compare_models(args.model_file, args.rounds, args.seconds)
    if args.opencv_threads:
        import cv2

        cv2.setNumThreads(args.opencv_threads)

    def report(marks: dict) -> None:
        n = marks["frames1"] - marks["frames0"]
        print(f"frames: {bench.bench_frames()[1]}")  # without ../shared (EMOPLAY_SHARED), a photo stands in
        print(f"per thread, {n} frames processed:")
        for key, cpu in marks["after"].items():
            used = cpu - marks["before"].get(key, 0.0)
            if used > 0:
                print(f"  thread {key}: {1000 * used / n:.2f} CPU ms per frame")
        print(f"  all threads: {all_threads_ms(marks):.2f} CPU ms per frame")

    feed(args.seconds, report)
    if args.models:
        split = model_split(args.seconds)
        print(f"the worker thread, {split['frames']} frames after the warm-up, CPU ms per frame:")
        print(f"  detector inference  {split['detector_ms']:.2f}  ({split['detector_calls_per_frame']:.3f} calls "
              f"per frame, {split['detector_ms_per_call']:.2f} ms each)")
        print(f"  emotion model       {split['classifier_ms']:.2f}  ({split['classifier_calls_per_frame']:.3f} calls "
              f"per frame, {split['classifier_ms_per_call']:.2f} ms each)")
        print(f"  rest of process()   {split['process_rest_ms']:.2f}")
        print(f"  process() in all    {split['process_ms']:.2f}  (the worker thread after the warm-up: "
              f"{split['worker_ms_after_warmup']:.2f})")
    if args.no_profile:
        return 0

    profiler, work = cProfile.Profile(), Sensor._work

    def profiled(self, run):
        profiler.enable()
        try:
            work(self, run)
        finally:
            profiler.disable()

    Sensor._work = profiled
    try:
        feed(args.seconds)
    finally:
        Sensor._work = work
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(args.top)
    print("the worker thread, cProfile (times include the profiler's overhead):")
    print(text.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
