"""What OpenCV's thread pool costs around the detector's letterbox warp, with and without on_this_thread.

    python benchmarks/opencv_pool.py [--calls 1000] [--pause-ms 3]

Warps a 640x480 frame to the detector's 128x128 input (``Letterbox``'s matrix and flags), ``--calls`` times
with a pause between calls as frames arrive from a camera, first as a plain ``cv2.warpAffine`` (OpenCV's
default threads) and then inside ``emoplay._cv_threads.on_this_thread``, alternately for 3 rounds. Prints
per call the calling thread's CPU time and the CPU time of every other thread of the process (from
/proc/self/task, Linux: the pool's workers, which cProfile does not see), and whether both warps agree.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time

import numpy as np


def other_threads_cpu_s(me: int) -> float:
    """CPU seconds of every thread of this process but ``me`` (a native thread id)."""
    from sensor_threads import thread_cpu_s

    return sum(cpu for key, cpu in thread_cpu_s().items() if int(key.split()[0]) != me)


def main(argv: list[str] | None = None) -> int:
    import cv2

    from emoplay._cv_threads import on_this_thread

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--pause-ms", type=float, default=3.0)
    args = parser.parse_args(argv)
    frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
    matrix = np.array([[0.2, 0.0, 0.0], [0.0, 0.2, 16.0]])  # 640x480 letterboxed into 128x128
    out = {name: np.empty((128, 128, 3), np.uint8) for name in ("plain", "on_this_thread")}

    def plain() -> None:
        cv2.warpAffine(frame, matrix, (128, 128), dst=out["plain"], flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def own() -> None:
        with on_this_thread():
            cv2.warpAffine(frame, matrix, (128, 128), dst=out["on_this_thread"], flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    me = threading.get_native_id()
    report: dict[str, list[dict[str, float]]] = {"plain": [], "on_this_thread": []}
    for _ in range(3):
        for name, warp in (("plain", plain), ("on_this_thread", own)):
            warp()
            others, mine = other_threads_cpu_s(me), time.thread_time()
            for _ in range(args.calls):
                warp()
                time.sleep(args.pause_ms / 1000)
            report[name].append({"calling_thread_ms": (time.thread_time() - mine) * 1000 / args.calls,
                                 "other_threads_ms": (other_threads_cpu_s(me) - others) * 1000 / args.calls})
    print(json.dumps({"cpu": os.cpu_count(), "opencv_threads": cv2.getNumThreads(),
                      "same_pixels": bool(np.array_equal(out["plain"], out["on_this_thread"])),
                      "per_call_by_round": report}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
