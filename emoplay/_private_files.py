"""Reading small files that hold secrets or headers: regular files only, never more than is needed.

A path given for a key or a log may name a device (``/dev/zero`` never ends), a named pipe (opening it
waits for a writer) or a file far larger than expected; each is refused or read only as far as needed.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ._errors import EmoplayError


def read_regular_file(path: str | os.PathLike, what: str, error: type[EmoplayError], limit: int | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit + 1`` of them (so "too long" can be told).

    Raises ``error`` naming ``what`` ("key file", "session log") when it cannot be read or is not a regular file.
    """
    try:
        # O_NONBLOCK: opening a named pipe must not wait for a writer; it has no effect on a regular file.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
                     | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise error(f"cannot read {what} {os.fspath(path)}: {exc.strerror or exc}") from exc
    with open(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(f"{what} {os.fspath(path)} is not a regular file; give the path of a file")
        try:
            return f.read() if limit is None else f.read(limit + 1)
        except OSError as exc:
            raise error(f"cannot read {what} {os.fspath(path)}: {exc.strerror or exc}") from exc


def readable_by_others(path: str | os.PathLike) -> str | None:
    """A warning to show when the group or other users may read the file ``path`` (POSIX only), else None."""
    if os.name != "posix":
        return None  # Windows keeps no such bits
    try:
        mode = Path(path).stat().st_mode
    except OSError:
        return None  # the read that follows says why it cannot be read
    if not stat.S_ISREG(mode) or not mode & 0o077:
        return None
    return (f"{os.fspath(path)} can be read by other users (mode {mode & 0o777:o}): whoever reads it reads "
            f"every log it opens; run `chmod 600 {os.fspath(path)}`")
