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

_lock = threading.Lock()
_inside = 0  # calls now running on their own thread
_saved = 0  # the setting found by the first of them


@contextmanager
def on_this_thread():
    import cv2

    global _inside, _saved
    with _lock:
        if _inside == 0:
            _saved = cv2.getNumThreads()
            if _saved != 1:
                cv2.setNumThreads(1)
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _saved != 1:
                cv2.setNumThreads(_saved)
