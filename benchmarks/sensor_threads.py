"""Where a Sensor fed 30 fps spends its CPU: per thread, and cProfile of its worker thread.

    python benchmarks/sensor_threads.py [--seconds 20] [--top 15] [--opencv-threads 1] [--no-profile]

Feeds the bench's camera-like frames (``emoplay._bench.camera_like_loop``) to a memory-source Sensor at
30 fps, polling each frame as a game loop does. After a 5 s warm-up it reads each thread's CPU time from
/proc/self/task (Linux) and prints ms per processed frame; then, in a second run, it profiles the
sensor's worker thread with cProfile and prints the top functions by own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import threading
import time

from emoplay import _bench
from emoplay._sensor import Sensor, SensorOptions

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


def feed(seconds: float, on_marks=None) -> int:
    frames = _bench.camera_like_loop(_bench.bench_frames()[0])
    sensor = Sensor(SensorOptions(source="memory"))
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

    _bench._feed(sensor, frames, stop, tick)
    sensor.close()
    if on_marks:
        on_marks(marks)
    return marks["frames1"] - marks["frames0"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--opencv-threads", type=int, default=0, metavar="N",
                        help="cv2.setNumThreads(N) first (process-wide; 0: OpenCV's default, one per core)")
    parser.add_argument("--no-profile", action="store_true", help="only the per-thread figures")
    args = parser.parse_args(argv)
    if args.opencv_threads:
        import cv2

        cv2.setNumThreads(args.opencv_threads)

    def report(marks: dict) -> None:
        n = marks["frames1"] - marks["frames0"]
        total = 0.0
        print(f"per thread, {n} frames processed:")
        for key, cpu in marks["after"].items():
            used = cpu - marks["before"].get(key, 0.0)
            if used > 0:
                total += used
                print(f"  thread {key}: {1000 * used / n:.2f} CPU ms per frame")
        print(f"  all threads: {1000 * total / n:.2f} CPU ms per frame")

    feed(args.seconds, report)
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
