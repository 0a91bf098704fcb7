"""How long a call takes on this machine (``emoplay doctor``, ``emoplay bench``)."""

from __future__ import annotations

import statistics
import time


def median_ms(fn, repeat: int = 50) -> float:
    """Median wall time of ``fn()`` in milliseconds, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)
