"""What a session log costs the game thread: one write(event), and opening a log with a passphrase.

Run: python -m pytest benchmarks/test_sessionlog.py --benchmark-enable
Both run on the caller's thread; fsync and scrypt happen on the log's own thread (LOG_FORMAT.md,
"Writing, crashes and the guarantees"), so these are the figures a game sees.
"""

from __future__ import annotations

import itertools

from emoplay._events import EmotionChanged
from emoplay.sessionlog import LogKey, SessionLogWriter


def test_write_one_event(benchmark, tmp_path):
    writer = SessionLogWriter(tmp_path / "s.emolog", LogKey.from_bytes(bytes(32)), include_probabilities=True)
    times = itertools.count()
    probs = {"angry": 0.05, "disgust": 0.0, "fear": 0.05, "happy": 0.7, "sad": 0.05, "surprise": 0.1, "neutral": 0.05}

    def write():
        writer.write(EmotionChanged(1, "neutral", "happy", 0.7, probs, float(next(times))))

    benchmark(write)
    writer.close()


def test_open_a_log_with_a_passphrase(benchmark, tmp_path):
    """The default scrypt work factor (2**17, about 0.3 s) is paid on the log's thread, not here."""
    key = LogKey.from_passphrase("a pass phrase")
    names = (tmp_path / f"s{i}.emolog" for i in itertools.count())
    writers = []
    benchmark.pedantic(lambda: writers.append(SessionLogWriter(next(names), key)), rounds=5, iterations=1)
    for writer in writers:
        writer.close()
