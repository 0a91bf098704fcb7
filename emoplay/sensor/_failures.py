"""Errors that the sensor keeps for the host hold no frame pixels.

An exception's traceback holds every frame it passed through, and each frame its
local variables: a worker failure inside the pipeline step would keep that step's
frame and crops alive for as long as the host keeps the error (``SensorFailed``,
``start()``'s error, a camera's stored failure), even after ``close()``.
:func:`without_frame_locals` clears those variables before an error is kept.
"""

from __future__ import annotations

import traceback


def without_frame_locals(error: BaseException) -> BaseException:
    """``error``, with the local variables of the finished frames in its traceback, and in those of the
    errors it was raised from or during, cleared. Frames still running (the caller's) are left as they are:
    the caller drops its own references to frame pixels."""
    pending, seen = [error], set()
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if current.__traceback__ is not None:
            traceback.clear_frames(current.__traceback__)
        pending += [current.__cause__, current.__context__]
    return error
