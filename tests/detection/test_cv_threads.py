"""The detector's letterbox warp runs on the calling thread, and the host's OpenCV setting survives it."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

import emoplay
import emoplay.detection
from emoplay._cv_threads import on_this_thread


def test_the_host_setting_is_lowered_only_during_the_call_and_restored():
    import cv2

    before = cv2.getNumThreads()
    try:
        for host in (2, 3, 1):
            cv2.setNumThreads(host)
            with on_this_thread():
                assert cv2.getNumThreads() == 1
            assert cv2.getNumThreads() == host
            with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
                detector.detect(np.zeros((480, 640, 3), np.uint8))
            assert cv2.getNumThreads() == host
    finally:
        cv2.setNumThreads(before)


def test_overlapping_calls_on_two_threads_restore_the_setting_once_both_are_done():
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(3)
    inside, order = threading.Barrier(2), []

    def call(name: str, hold: threading.Event | None, wait: threading.Event | None) -> None:
        with on_this_thread():
            inside.wait(5)
            order.append((name, cv2.getNumThreads()))
            if hold is not None:
                hold.set()
            if wait is not None:
                wait.wait(5)
        order.append((name + " out", cv2.getNumThreads()))

    first_out = threading.Event()
    try:
        # "a" leaves first, while "b" is still inside: the setting stays 1 until "b" leaves too
        a = threading.Thread(target=call, args=("a", None, None))
        b = threading.Thread(target=call, args=("b", None, first_out))
        a.start(), b.start()
        a.join(5)
        first_out.set()
        b.join(5)
        assert ("a", 1) in order and ("b", 1) in order and ("a out", 1) in order
        assert order[-1] == ("b out", 3) and cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)


@pytest.mark.slow
def test_detecting_faces_starts_no_opencv_worker_thread():
    """In a fresh process: 30 detections leave the process with the threads it had before them (OpenCV
    starts its pool on the first parallel call; the warp would have started it)."""
    code = """
import os, cv2, numpy as np, emoplay  # cv2 first: importing it starts a thread of its own
frame = np.random.default_rng(0).integers(0, 256, (480, 640, 3), np.uint8)
with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
    before = len(os.listdir('/proc/self/task'))
    for _ in range(30):
        detector.detect(frame, color_order='bgr')
    print(before, len(os.listdir('/proc/self/task')))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    before, after = map(int, out.stdout.split())
    assert after == before, out.stdout
