"""Background threads that run native code end before the interpreter does.

The sensor's worker and a camera's grab thread are daemon threads, so a hung camera driver can never keep a
game from quitting. But a daemon thread that is still inside native code when Python finalises (an ONNX
inference, a ``cv2.VideoCapture.read()``, both of which release the GIL) is ended by the interpreter the moment
it takes the GIL back: ``pthread_exit()`` unwinds the thread through C++ frames that forbid it and the C++ runtime
aborts the whole process ("terminate called without an active exception", exit code 134) — after the host's
own code has finished, so a short script that started and stopped a sensor would crash at exit.

``atexit`` callbacks run before that point, while daemon threads still run. The one callback registered here
first asks every registered owner to stop its threads (so they finish side by side), then waits for them, at
most :data:`EXIT_WAIT_S` in all. A thread that is still blocked after that (a driver hung for longer) is left
to the interpreter: exiting is never held up for longer than the bound.
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from typing import Protocol

# How long interpreter exit waits, in all, for the registered threads. The longest native step a worker takes
# is loading the models (under a second on an idle core, several seconds on a loaded one, for a sensor stopped
# while starting); a frame's inference and a camera read that blocks for a couple of seconds fit in it too.
EXIT_WAIT_S = 5.0


class StopsThreadsAtExit(Protocol):
    def _exit_stop(self) -> None:
        """Ask the owner's threads to finish; no waiting, no locks a host thread may hold."""

    def _exit_join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for them; True when none is left."""


_owners: "weakref.WeakSet[StopsThreadsAtExit]" = weakref.WeakSet()
_owners_lock = threading.Lock()
_hook_registered = False


def finish_threads_at_exit(owner: StopsThreadsAtExit) -> None:
    """Stop and join ``owner``'s threads when the interpreter exits (held weakly: a collected owner is dropped).

    Call it when the owner starts a thread; registering again is free.
    """
    global _hook_registered
    with _owners_lock:
        _owners.add(owner)
        if not _hook_registered:
            atexit.register(finish_all_threads)
            _hook_registered = True


def finish_all_threads(wait_s: float = EXIT_WAIT_S) -> bool:
    """The exit hook: stop every registered owner's threads, then wait for them; True when all ended in time."""
    with _owners_lock:
        owners = list(_owners)
    for owner in owners:
        try:
            owner._exit_stop()
        except Exception:  # noqa: BLE001 - one broken owner must not keep the others running at exit
            pass
    deadline = time.monotonic() + wait_s
    finished = True
    for owner in owners:
        try:
            finished = owner._exit_join(max(0.0, deadline - time.monotonic())) and finished
        except Exception:  # noqa: BLE001 - as above
            finished = False
    return finished
