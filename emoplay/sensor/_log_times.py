"""Session-log times that never go back, across the streams of one sensor.

Every stream has its own time base (``emoplay.sensor._sensor``): a video's events start at its
first frame's time, so turning a video source off and on starts the times again from 0. A session
log spans all the streams of its sensor, and a reader (``emoplay log show``, ``log plot``) needs
its times in order. So when an event's stream time is earlier than the previous logged event's,
a new stream has begun, and its times are moved to continue from the last logged time: the time
the source was off is not counted. One stream's times are logged as they are; hosts' callbacks
(and sinks attached with ``attach_sink``) always get the events unchanged: ``Sensor.start_log``
wraps its log in :class:`InOrderLog`.
"""

from __future__ import annotations

import dataclasses


class LogTimes:
    """Maps event times onto the log's increasing time line (one per open log)."""

    def __init__(self) -> None:
        self._last_stream_time: float | None = None  # the previous logged event's own time
        self._shift = 0.0  # added to the current stream's times

    def logged(self, event: object) -> object:
        """The event as it is to be logged: unchanged, or a copy with its timestamp moved."""
        t = getattr(event, "timestamp", None)
        if not isinstance(t, float):
            return event
        last = self._last_stream_time
        if last is not None and t < last:  # a new stream: continue from the last logged time
            self._shift += last - t
        self._last_stream_time = t
        if self._shift == 0.0:
            return event
        return dataclasses.replace(event, timestamp=t + self._shift)


class InOrderLog:
    """An event sink that writes to ``log`` with :class:`LogTimes`' times (a SessionLogWriter's events)."""

    def __init__(self, log) -> None:
        self.log = log
        self._times = LogTimes()

    def write(self, event: object) -> object:
        return self.log.write(self._times.logged(event))

    def close(self) -> None:
        self.log.close()
