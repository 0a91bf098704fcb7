"""Faulty frame sources and camera drivers for the fault-injection tests.

Each one is a plain class that satisfies emoplay's ``FrameSource`` protocol (or, for
``BlockingCapture``/``RaisingCapture``, the part of ``cv2.VideoCapture`` a ``CameraSource`` uses), so
the real Sensor, pipeline and models run against it.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from emoplay import EndOfStream, Frame, VideoFileSource, WorkerError


def poll_until_failure(sensor, timeout: float = 30.0):
    """Poll like a game loop until poll() raises WorkerError; (the error, every event delivered). A deadline,
    not a timing: it only keeps a test that fails from hanging."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen += sensor.poll()
        except WorkerError as error:
            return error, seen + error.events
        time.sleep(0.005)
    raise AssertionError(f"no WorkerError within {timeout} s (state {sensor.camera_state}); events: {seen}")


class BlockingCamera:
    """A camera whose ``read()`` blocks for ``block_s`` seconds from the ``block_from``-th call (an unplugged V4L2
    device), delivering ``frame`` before that."""

    is_live = True
    name = "blocking camera"

    def __init__(self, frame: np.ndarray, block_s: float = 3.0, block_from: int = 3) -> None:
        self.frame, self.block_s, self.block_from = frame, block_s, block_from
        self.reads = 0
        self.blocking = threading.Event()  # set while a read is blocked
        self.unblock = threading.Event()  # set by a test to end the block early
        self.opened_on: threading.Thread | None = None
        self.closed_on: threading.Thread | None = None
        self.read_returned_at: float | None = None
        self.closed_at: float | None = None
        self.is_open = False

    def open(self) -> None:
        self.opened_on = threading.current_thread()
        self.is_open = True

    def read(self, timeout: float) -> Frame | None:
        self.reads += 1
        if self.reads >= self.block_from:
            self.blocking.set()
            self.unblock.wait(self.block_s)
            self.blocking.clear()
            self.read_returned_at = time.perf_counter()
        else:
            time.sleep(timeout / 2)
        return Frame(self.frame, time.monotonic(), self.reads)

    def close(self) -> None:
        self.closed_on = threading.current_thread()
        self.closed_at = time.perf_counter()
        self.is_open = False


class SlowOpeningCamera(BlockingCamera):
    """A camera whose ``open()`` takes up to ``open_s`` seconds (until ``let_open`` is set)."""

    def __init__(self, frame: np.ndarray, open_s: float = 3.0) -> None:
        super().__init__(frame, block_from=10**9)
        self.open_s = open_s
        self.opening = threading.Event()
        self.let_open = threading.Event()

    def open(self) -> None:
        self.opening.set()
        self.let_open.wait(self.open_s)
        super().open()


class FailingVideo:
    """A real video whose source raises ``error`` after ``frames`` frames (a driver or decoder crash)."""

    is_live = False
    timebase = "stream"

    def __init__(self, path, frames: int, error: BaseException) -> None:
        self.inner = VideoFileSource(path)
        self.name = f"failing {path}"
        self.frames, self.error = frames, error
        self.read_count = 0
        self.closed = 0

    def open(self) -> None:
        self.inner.open()

    def read(self, timeout: float) -> Frame | None:
        if self.read_count >= self.frames:
            raise self.error
        self.read_count += 1
        return self.inner.read(timeout)

    def close(self) -> None:
        self.closed += 1
        self.inner.close()


class FrameList:
    """Frames from a list, stamped 1/30 s apart on stream time; ends with EndOfStream."""

    is_live = False
    timebase = "stream"
    name = "frame list"

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = frames
        self.index = 0

    def open(self) -> None:
        self.index = 0

    def read(self, timeout: float) -> Frame | None:
        if self.index >= len(self.frames):
            raise EndOfStream
        self.index += 1
        return Frame(self.frames[self.index - 1], (self.index - 1) / 30, self.index - 1)

    def close(self) -> None:
        pass


class _Capture:
    """The part of cv2.VideoCapture that CameraSource uses, delivering ``frame``."""

    def __init__(self, frame: np.ndarray) -> None:
        self.frame = frame
        self.reads = 0
        self.released = threading.Event()
        self.released_on: threading.Thread | None = None

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def set(self, prop, value) -> bool:
        return True

    def release(self) -> None:
        self.released_on = threading.current_thread()
        self.released.set()


class BlockingCapture(_Capture):
    """``read()`` blocks ``block_s`` seconds from the ``block_from``-th call, like an unplugged V4L2 camera."""

    def __init__(self, frame: np.ndarray, block_s: float = 3.0, block_from: int = 3) -> None:
        super().__init__(frame)
        self.block_s, self.block_from = block_s, block_from
        self.blocking = threading.Event()
        self.read_returned_at: float | None = None

    def read(self):
        self.reads += 1
        if self.reads >= self.block_from:
            self.blocking.set()
            time.sleep(self.block_s)
            self.read_returned_at = time.perf_counter()
        else:
            time.sleep(1 / 30)
        return True, self.frame.copy()


class RaisingCapture(_Capture):
    """``read()`` raises ``error`` from the ``fail_from``-th call (a driver that crashes)."""

    def __init__(self, frame: np.ndarray, error: BaseException, fail_from: int = 3) -> None:
        super().__init__(frame)
        self.error, self.fail_from = error, fail_from

    def read(self):
        self.reads += 1
        if self.reads >= self.fail_from:
            raise self.error
        time.sleep(1 / 30)
        return True, self.frame.copy()
