"""Event sinks: where a Sensor writes the events it delivers, besides the host's callbacks.

A sink is any object with ``write(event)`` and ``close()`` (:class:`EventSink`); the encrypted session log
(``emoplay.sessionlog.SessionLogWriter``) is one. ``poll()`` writes each event to the attached sink before the callbacks
run; ``detach_sink()`` (and ``close()``) write the events still queued, then close the sink.

A sink whose ``write`` raises is detached and closed at once: ``poll()`` raises that error once (after every
callback got the batch), and later polls deliver their events without it. A full disk therefore stops the log,
never the game; ``Sensor.sink_attached`` says whether a sink is still attached.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class EventSink(Protocol):
    def write(self, event: object) -> object:
        """Record one event (any type the sensor delivers; a sink skips those it does not keep)."""

    def close(self) -> None:
        """Finish: nothing is written after this."""


def check_sink(sink: object) -> EventSink:
    if not isinstance(sink, EventSink):
        raise TypeError(f"an event sink needs write(event) and close() methods; {type(sink).__name__} lacks them")
    return sink


def write_or_detach(sink: EventSink, event: object) -> list[Exception]:
    """Write ``event``; when that raises, close the sink too (its caller detaches it) and return the errors."""
    try:
        sink.write(event)
        return []
    except Exception as error:  # noqa: BLE001 - the callbacks still get the event; poll() raises it once
        errors = [error]
    try:
        sink.close()
    except Exception as error:  # noqa: BLE001 - a sink that failed may fail again closing; say so, once
        if error is not errors[0]:
            errors.append(error)
    return errors
