"""``emoplay serve --parent-pid PID``: notice when the program that started the server (a game) has ended.

An engine that starts ``emoplay serve`` itself passes its own process id; the serve loop asks
:meth:`ParentWatch.gone` each turn, which looks at the process at most every ``interval_s`` seconds
(default 0.5 s), so a game that crashes or is killed never leaves a server (and a camera) running.

When ``PID`` is this process's parent, the watch also notices being re-parented (the parent's id can be
reused by a new process once it has ended and been reaped; the parent id of this process changes at once).
"""

from __future__ import annotations

import os
import sys

from .._clock import Clock, monotonic_clock

POLL_INTERVAL_S = 0.5


def process_alive(pid: int) -> bool:
    """True while a process with this id exists (a zombie that was not reaped yet counts as alive on POSIX)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        return _windows_process_alive(pid)
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists and may be signalled
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True


def _windows_process_alive(pid: int) -> bool:
    # os.kill on Windows terminates the process: ask the kernel instead.
    import ctypes

    synchronize, wait_timeout = 0x00100000, 0x102
    kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if not handle:
        return False
    try:
        return kernel32.WaitForSingleObject(handle, 0) == wait_timeout
    finally:
        kernel32.CloseHandle(handle)


class ParentWatch:
    """Polls one process id; :meth:`gone` turns True (and stays True) once that process has ended."""

    def __init__(self, pid: int, interval_s: float = POLL_INTERVAL_S, clock: Clock = monotonic_clock) -> None:
        if pid <= 0:
            raise ValueError(f"--parent-pid must be a process id > 0, got {pid}")
        if not process_alive(pid):
            raise ValueError(f"--parent-pid {pid}: no such process; pass the id of the running program "
                             "that starts emoplay serve")
        self.pid = pid
        self.interval_s = interval_s
        self._clock = clock
        self._is_our_parent = hasattr(os, "getppid") and os.getppid() == pid
        self._checked_at = clock()
        self._gone = False

    def gone(self) -> bool:
        if self._gone:
            return True
        now = self._clock()
        if now - self._checked_at < self.interval_s:
            return False
        self._checked_at = now
        self._gone = (self._is_our_parent and os.getppid() != self.pid) or not process_alive(self.pid)
        return self._gone
