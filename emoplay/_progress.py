"""A one-line counter on the terminal for long work (``eval``, ``explain`` on a folder).

It rewrites one stderr line ("emoplay eval: 1200/3589 faces") a few times a second and clears
it when the work ends. It writes nothing when stderr is not a terminal (a pipe, a file, a CI
log) or when the command prints JSON, so a script's output stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

UPDATE_S = 0.2  # the fastest rewrite of the line: faster only flickers


class Progress:
    def __init__(self, label: str, total: int, unit: str, *, stream: TextIO | None = None, quiet: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.stream = sys.stderr if stream is None else stream
        self.clock = clock
        try:
            terminal = self.stream.isatty()
        except (AttributeError, ValueError):  # a closed or odd stream: no terminal
            terminal = False
        self.shown = terminal and not quiet and total > 0
        self._last = float("-inf")
        self._width = 0

    def update(self, done: int) -> None:
        """``done`` of ``total`` are finished (the line changes at most every UPDATE_S, and on the last one)."""
        if not self.shown:
            return
        now = self.clock()
        if now - self._last < UPDATE_S and done < self.total:
            return
        self._last = now
        text = f"{self.label}: {done}/{self.total} {self.unit}"
        self._width = max(self._width, len(text))
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()

    def close(self) -> None:
        """Clear the line, so that what comes next starts on a clean one."""
        if self.shown and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
