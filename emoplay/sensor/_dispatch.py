"""Subscriptions: callbacks per declared event name, bound methods held weakly.

Subscribing to a name that is not a declared event fails at once. A bound
method is held through ``weakref.WeakMethod``, so a game object that dies
unsubscribes itself; plain functions are held strongly. A callback that raises
does not keep the event from the other callbacks: :meth:`EventDispatcher.dispatch`
runs them all and returns the exceptions for the caller to raise.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

from .._events import EVENT_TYPES, event_name


class EventDispatcher:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Callable[[], Callable[[Any], Any] | None]]] = {n: [] for n in EVENT_TYPES}

    def subscribe(self, name: str, callback: Callable[[Any], Any]) -> None:
        if name not in self._subscribers:
            raise ValueError(f"unknown event {name!r}; subscribe to one of {', '.join(EVENT_TYPES)}")
        if not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        if hasattr(callback, "__self__") and hasattr(callback, "__func__"):
            ref: Callable[[], Any] = weakref.WeakMethod(callback)
        else:
            ref = (lambda cb=callback: cb)
        self._subscribers[name].append(ref)

    def unsubscribe(self, name: str, callback: Callable[[Any], Any]) -> None:
        if name not in self._subscribers:
            raise ValueError(f"unknown event {name!r}; one of {', '.join(EVENT_TYPES)}")
        self._subscribers[name] = [r for r in self._subscribers[name] if r() not in (None, callback)]

    def dispatch(self, event: object) -> list[Exception]:
        """Run every callback subscribed to the event's name; the exceptions they raised, in order."""
        refs = self._subscribers.get(event_name(event), [])
        alive = []
        errors: list[Exception] = []
        for ref in list(refs):
            callback = ref()
            if callback is None:
                continue
            alive.append(ref)
            try:
                callback(event)
            except Exception as e:  # noqa: BLE001 - the other subscribers still get the event
                errors.append(e)
        refs[:] = [r for r in refs if r in alive or r() is not None]
        return errors
