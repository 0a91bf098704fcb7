"""EventDispatcher: declared names only, bound methods held weakly, functions strongly, unsubscribe."""

from __future__ import annotations

import gc

import pytest

from emoplay import (
    CalibrationFailed,
    CalibrationFinished,
    CalibrationProgress,
    CameraState,
    CameraStateChanged,
    EmotionChanged,
    EventsDropped,
    FaceFound,
    FaceLost,
    PrimaryFaceChanged,
    FaceSignal,
    SensorFailed,
)
from emoplay.sensor._dispatch import EventDispatcher
from emoplay._events import EVENT_TYPES

EVENTS = {
    "EmotionChanged": EmotionChanged(1, "unknown", "happy", 0.8, {"happy": 0.8}, 1.0),
    "FaceFound": FaceFound(1, (0, 0, 10, 10), 1.0, is_primary=True),
    "FaceLost": FaceLost(1, 2.0),
    "CameraStateChanged": CameraStateChanged(CameraState.OFF, CameraState.STARTING, "start", 0.0),
    "PrimaryFaceChanged": PrimaryFaceChanged(None, 1, 1.0),
    "EventsDropped": EventsDropped(4, 2.5),
    "CalibrationProgress": CalibrationProgress(1, 0.5, 40, 2.6),
    "CalibrationFinished": CalibrationFinished(1, 80, 3.0, 2.7),
    "CalibrationFailed": CalibrationFailed("no_face", "no face", 2.8),
    "SensorFailed": SensorFailed("boom", 3.0),
    "FaceSignal": FaceSignal(1, "happy", 0.8, {"happy": 0.8, "neutral": 0.2}, 0.64, 0.32, 3.1),
}


class Player:
    def __init__(self, log: list) -> None:
        self.log = log

    def on_event(self, event) -> None:
        self.log.append(event)


def test_every_declared_event_can_be_subscribed_and_is_routed_by_type():
    assert set(EVENTS) == set(EVENT_TYPES)
    dispatcher = EventDispatcher()
    got: dict[str, list] = {name: [] for name in EVENTS}
    for name in EVENTS:
        dispatcher.subscribe(name, got[name].append)
    for event in EVENTS.values():
        dispatcher.dispatch(event)
    assert got == {name: [event] for name, event in EVENTS.items()}


@pytest.mark.parametrize("name", ["EmotionChange", "emotionchanged", "FaceFound ", "", "on_face_found"])
def test_unknown_event_name_is_rejected_at_subscribe_with_the_names(name):
    dispatcher = EventDispatcher()
    with pytest.raises(ValueError) as info:
        dispatcher.subscribe(name, print)
    message = str(info.value)
    assert repr(name) in message
    assert all(declared in message for declared in EVENT_TYPES)
    with pytest.raises(ValueError, match="EmotionChanged"):
        dispatcher.unsubscribe(name, print)


@pytest.mark.parametrize("callback", [None, 3, "handler"])
def test_non_callable_is_rejected(callback):
    with pytest.raises(TypeError, match="callable"):
        EventDispatcher().subscribe("FaceLost", callback)


def test_subscribers_are_called_in_order():
    dispatcher = EventDispatcher()
    calls = []
    dispatcher.subscribe("FaceLost", lambda e: calls.append("first"))
    dispatcher.subscribe("FaceLost", lambda e: calls.append("second"))
    dispatcher.dispatch(EVENTS["FaceLost"])
    assert calls == ["first", "second"]


def test_bound_method_is_held_weakly():
    dispatcher = EventDispatcher()
    log: list = []
    player = Player(log)
    dispatcher.subscribe("FaceFound", player.on_event)
    dispatcher.dispatch(EVENTS["FaceFound"])
    assert log == [EVENTS["FaceFound"]]
    del player
    gc.collect()
    dispatcher.dispatch(EVENTS["FaceFound"])  # the dead subscriber is skipped, no error
    dispatcher.dispatch(EVENTS["FaceFound"])
    assert log == [EVENTS["FaceFound"]]


def test_dead_bound_method_does_not_affect_the_living():
    dispatcher = EventDispatcher()
    dead_log: list = []
    live_log: list = []
    dead, alive = Player(dead_log), Player(live_log)
    dispatcher.subscribe("FaceLost", dead.on_event)
    dispatcher.subscribe("FaceLost", alive.on_event)
    del dead
    gc.collect()
    dispatcher.dispatch(EVENTS["FaceLost"])
    assert (dead_log, live_log) == ([], [EVENTS["FaceLost"]])


def test_plain_functions_and_callable_objects_are_held_strongly():
    dispatcher = EventDispatcher()
    calls: list = []

    def make_handler(tag):
        def handler(event):
            calls.append(tag)
        return handler

    class Counter:
        def __call__(self, event):
            calls.append("object")

    dispatcher.subscribe("FaceLost", make_handler("function"))  # nothing else refers to it
    dispatcher.subscribe("FaceLost", lambda event: calls.append("lambda"))
    dispatcher.subscribe("FaceLost", Counter())
    dispatcher.subscribe("FaceLost", calls.append)  # a built-in bound method: kept while subscribed
    gc.collect()
    dispatcher.dispatch(EVENTS["FaceLost"])
    assert calls == ["function", "lambda", "object", EVENTS["FaceLost"]]


def test_unsubscribe():
    dispatcher = EventDispatcher()
    log: list = []
    player = Player(log)

    def handler(event):
        log.append("function")

    dispatcher.subscribe("FaceLost", handler)
    dispatcher.subscribe("FaceLost", player.on_event)
    dispatcher.unsubscribe("FaceLost", handler)
    dispatcher.unsubscribe("FaceLost", player.on_event)  # a fresh bound method object of the same pair
    dispatcher.unsubscribe("FaceLost", print)  # never subscribed: nothing happens
    dispatcher.unsubscribe("FaceFound", handler)  # subscribed elsewhere only: nothing happens
    dispatcher.dispatch(EVENTS["FaceLost"])
    assert log == []


def test_unsubscribe_only_the_given_subscriber_and_name():
    dispatcher = EventDispatcher()
    calls: list = []
    a, b = Player(calls), Player(calls)
    dispatcher.subscribe("FaceLost", a.on_event)
    dispatcher.subscribe("FaceLost", b.on_event)
    dispatcher.subscribe("FaceFound", a.on_event)
    dispatcher.unsubscribe("FaceLost", a.on_event)
    dispatcher.dispatch(EVENTS["FaceLost"])
    dispatcher.dispatch(EVENTS["FaceFound"])
    assert calls == [EVENTS["FaceLost"], EVENTS["FaceFound"]]


def test_subscribe_and_unsubscribe_from_inside_a_handler():
    dispatcher = EventDispatcher()
    calls: list = []

    def late(event):
        calls.append("late")

    def once(event):
        calls.append("once")
        dispatcher.unsubscribe("FaceLost", once)
        dispatcher.subscribe("FaceLost", late)

    dispatcher.subscribe("FaceLost", once)
    dispatcher.subscribe("FaceLost", lambda e: calls.append("always"))
    dispatcher.dispatch(EVENTS["FaceLost"])
    assert calls == ["once", "always"]  # a handler added during a dispatch waits for the next one
    dispatcher.dispatch(EVENTS["FaceLost"])
    assert calls == ["once", "always", "always", "late"]


def test_dispatching_an_undeclared_object_does_nothing():
    dispatcher = EventDispatcher()
    dispatcher.subscribe("FaceLost", pytest.fail)
    dispatcher.dispatch(object())
