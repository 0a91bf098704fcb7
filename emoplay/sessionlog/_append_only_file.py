"""A new file that is only ever appended to: exclusive creation, whole writes, fsync of file and folder.

The session-log writer's I/O layer. Writes go straight to the file descriptor
(no user-space buffer), so once :meth:`AppendOnlyFile.append` returns the bytes
belong to the operating system and survive the process being killed;
:meth:`AppendOnlyFile.sync` makes them survive a power cut. Errors are plain
``OSError``: the caller decides what a failure means.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

# fsync on a folder is not supported everywhere (some network and FUSE file systems say EINVAL).
_FOLDER_SYNC_UNSUPPORTED = {errno.EINVAL, errno.ENOTSUP, errno.EBADF, errno.EISDIR}


def _sync_folder(folder: Path) -> None:
    """The entries of ``folder`` are on the storage device when this returns (where folders can be synced)."""
    if os.name != "posix":
        return  # NTFS journals an entry with its file's metadata; there is no folder handle to fsync
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _FOLDER_SYNC_UNSUPPORTED:
            raise
    finally:
        os.close(fd)


def _make_private_folders(folder: Path) -> None:
    """Create ``folder`` and any missing folder above it, each readable by its owner only, each synced into
    its parent (so that a power cut does not take a new folder, and the log in it, away)."""
    missing = []
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir(mode=0o700)
        except FileExistsError:
            if not path.is_dir():  # a broken link: not "the log already exists", which FileExistsError means here
                raise NotADirectoryError(errno.ENOTDIR, "in the way of a folder (a broken link?)", str(path)) from None
        else:
            _sync_folder(path.parent)


class AppendOnlyFile:
    """Create ``path`` (never an existing file) with ``mode`` and append to it. Missing folders on the way are
    created readable by their owner only."""

    def __init__(self, path: str | os.PathLike, mode: int = 0o600) -> None:
        self.path = Path(path)
        _make_private_folders(self.path.parent)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        self._fd: int | None = os.open(self.path, flags, mode)  # FileExistsError / OSError go to the caller
        self.size = 0  # bytes appended so far

    @property
    def closed(self) -> bool:
        return self._fd is None

    def append(self, data: bytes) -> None:
        """Write all of ``data`` at the end. On an error some of it may be in the file (``size`` says how much)."""
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            self.size += written
            view = view[written:]

    def sync(self) -> None:
        """Everything appended so far is on the storage device when this returns."""
        os.fsync(self._fd)

    def sync_folder(self) -> None:
        """The file's folder entry is on the storage device (so the file itself survives a power cut)."""
        _sync_folder(self.path.parent)

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def discard(self) -> None:
        """Close and delete the file (only for one this process just created and wrote nothing useful to)."""
        self.close()
        try:
            self.path.unlink()
        except OSError:
            pass
