"""The terminal counter of long commands, on a real pseudo-terminal and on a pipe."""

from __future__ import annotations

import os
import pty

import pytest

from emoplay import ManualClock
from emoplay._progress import UPDATE_S, Progress


def test_a_terminal_gets_one_rewritten_line_that_is_cleared_at_the_end():
    leader, follower = pty.openpty()
    clock = ManualClock(0.0)
    with os.fdopen(follower, "w") as terminal:
        with Progress("emoplay eval", 3, "faces", stream=terminal, clock=clock) as progress:
            progress.update(1)
            progress.update(2)  # too soon after the first: not written
            clock.advance(UPDATE_S)
            progress.update(3)
    chunks = []
    while True:  # a pseudo-terminal may hand the output over in pieces; EIO once the closed side is drained
        try:
            chunk = os.read(leader, 1000)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    written = b"".join(chunks).decode()
    assert written == "\remoplay eval: 1/3 faces\remoplay eval: 3/3 faces" + "\r" + " " * 23 + "\r"


def test_a_pipe_or_json_output_gets_nothing(tmp_path):
    read_end, write_end = os.pipe()
    with os.fdopen(write_end, "w") as pipe:
        with Progress("emoplay eval", 3, "faces", stream=pipe) as progress:
            progress.update(3)
    assert os.read(read_end, 100) == b""
    os.close(read_end)
    leader, follower = pty.openpty()
    terminal = os.fdopen(follower, "w")
    with Progress("x", 3, "faces", stream=terminal, quiet=True) as progress:  # a command printing JSON
        progress.update(3)
    terminal.flush()
    os.set_blocking(leader, False)
    with pytest.raises(BlockingIOError):  # nothing to read: nothing was written
        os.read(leader, 100)
    terminal.close()
    os.close(leader)
