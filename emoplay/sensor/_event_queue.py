"""The bounded queue between the worker and the host: oldest dropped first, and every drop counted.

The worker appends; the host drains in ``poll()``. When the host does not poll for long, the queue
keeps the newest ``limit`` events and counts the rest; the next drain starts with one
:class:`~emoplay.EventsDropped` saying how many went (stamped with the newest dropped event's time,
so it stays on the stream's time base). Events already written to the session log (by
``Sensor.stop_log()`` / ``close()``) are marked so that a later poll does not log them twice.
"""

from __future__ import annotations

import collections
import threading

from .._events import EventsDropped


class EventQueue:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._logged = 0  # how many events at the head were already written to the log
        self._dropped = 0  # dropped since the last drain
        self._dropped_at = 0.0
        self.dropped_total = 0

    def __len__(self) -> int:
        return len(self._items)

    def extend(self, events) -> None:
        with self._lock:
            for event in events:
                if len(self._items) >= self.limit:
                    oldest = self._items.popleft()
                    self._logged = max(self._logged - 1, 0)
                    self._dropped += 1
                    self.dropped_total += 1
                    self._dropped_at = getattr(oldest, "timestamp", self._dropped_at)
                self._items.append(event)

    def _materialise_drops(self) -> None:
        if self._dropped:
            self._items.appendleft(EventsDropped(self._dropped, self._dropped_at))
            self._logged = 0 if self._logged == 0 else self._logged + 1
            self._dropped = 0

    def drain(self) -> tuple[list, int]:
        """Every queued event (an EventsDropped first, if any were dropped) and how many leading ones are logged."""
        with self._lock:
            self._materialise_drops()
            items, logged = list(self._items), self._logged
            self._items.clear()
            self._logged = 0
            return items, logged

    def take_unlogged(self) -> list:
        """The queued events not yet written to the log, now marked as written; they stay queued for poll()."""
        with self._lock:
            self._materialise_drops()
            items = list(self._items)[self._logged:]
            self._logged = len(self._items)
            return items

    def requeue(self, events: list) -> None:
        """Put undelivered, unlogged events back at the head (poll() was interrupted)."""
        with self._lock:
            self._items.extendleft(reversed(events))
            self._logged = 0  # (events marked as logged meanwhile may be logged a second time)
