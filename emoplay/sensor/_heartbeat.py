"""The camera indicator's heartbeat: the host says each frame that it drew the indicator, the worker checks it.

The host calls :meth:`Heartbeat.beat` (``Sensor.heartbeat()``, which the Pygame ``CameraIndicator`` calls each
time it is drawn); the worker pauses capture when no beat came for the indicator timeout and waits for the
next one. Both sides share this object and nothing else of each other's.
"""

from __future__ import annotations

import threading

from .._clock import Clock


class Heartbeat:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.last = clock()  # clock time of the newest beat
        self._seen = threading.Event()

    def beat(self) -> None:
        """The indicator was drawn now."""
        self.last = self.clock()
        self._seen.set()

    def restart(self) -> None:
        """A run starts: it gets a full timeout before the first beat is due."""
        self.last = self.clock()

    def wake(self) -> None:
        """Wake a worker waiting for a beat (it is being stopped)."""
        self._seen.set()

    def missed(self, timeout_s: float) -> bool:
        """True when no beat came for more than ``timeout_s`` seconds."""
        return self.clock() - self.last > timeout_s

    def wait_for_beat(self, timeout_s: float, stop: threading.Event) -> bool:
        """Block until a beat makes the heartbeat fresh again (True) or ``stop`` is set (False)."""
        while not stop.is_set():
            self._seen.clear()
            if not self.missed(timeout_s):
                break
            self._seen.wait(0.1)
        return not stop.is_set()
