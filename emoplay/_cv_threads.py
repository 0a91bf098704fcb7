"""Run one OpenCV call on the calling thread, without OpenCV's thread pool.

OpenCV splits even a small ``cv2.warpAffine`` (the detector's 640x480 → 128x128
letterbox) over its pool, one thread per core, and the pool's threads then spin
waiting for more work: on a 2-core CPU that spin cost about twice the warp's own
CPU time (``python benchmarks/opencv_pool.py`` measures it on yours; figures in
``models/EXPERIMENTS.md``). A game gives emoplay a sliver of one core, not that.
``cv2.setNumThreads`` is process-wide, so :func:`on_this_thread` lowers it to 1
only for the duration of the call and then puts back what it found; calls on
several threads at once share one lowering (the first saves the setting, the
last restores it), so the host's own setting survives. A host that changes the
setting itself while such a call runs may see it restored to the earlier value.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable


class SharedOverride:
    """A process-wide setting changed while any caller needs it: the first caller saves what it finds and the last
    one puts it back, so overlapping calls on several threads share one change."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._inside = 0  # callers inside now
        self._saved: object = None  # the setting the first of them found

    @contextmanager
    def applied(self, read: Callable[[], object], write: Callable[[object], None], value: object):
        with self._lock:
            if self._inside == 0:
                self._saved = read()
                if self._saved != value:
                    write(value)
            self._inside += 1
        try:
            yield
        finally:
            with self._lock:
                self._inside -= 1
                if self._inside == 0 and self._saved != value:
                    write(self._saved)


_threads = SharedOverride()


@contextmanager
def on_this_thread():
    import cv2

    with _threads.applied(cv2.getNumThreads, cv2.setNumThreads, 1):
        yield
