"""Debouncer: hysteresis, dwell, flicker, confidence floor, per-track state; all on explicit timestamps.

The tests of the dwell rule use the ``responsive`` preset (no evidence sum, no floor hold); the properties every
preset keeps run for each of them; tests/pipeline/test_stability.py covers evidence, floor hold and the presets."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from emoplay import EMOTIONS, STABILITY_PRESETS, UNKNOWN, DebounceOptions, EmotionChanged, ManualClock
from emoplay.pipeline import Debouncer
from tests.support.debounce import FPS, HAPPY, NEUTRAL, feed, probs, steady

RESPONSIVE = DebounceOptions.preset("responsive")


# -- first event, dwell -----------------------------------------------------------------------------------------

def test_first_event_comes_from_unknown_with_its_probabilities():
    events = feed(Debouncer(EMOTIONS, RESPONSIVE), steady(HAPPY, 1.0))
    assert len(events) == 1
    event = events[0]
    assert (event.track_id, event.previous, event.current) == (1, UNKNOWN, "happy")
    assert set(event.probabilities) == set(EMOTIONS)
    assert sum(event.probabilities.values()) == pytest.approx(1.0)
    assert event.confidence == pytest.approx(event.probabilities["happy"]) == pytest.approx(0.8)
    # The first change also waits out the dwell.
    assert RESPONSIVE.dwell_s <= event.timestamp <= 0.3


@pytest.mark.parametrize("before, after, strength", [
    ("happy", "neutral", 0.8), ("neutral", "happy", 0.8), ("sad", "surprise", 0.7), ("angry", "fear", 0.9),
])
def test_sustained_clean_change_fires_within_0_3_s_at_30_fps(before, after, strength):
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    change_at = 2.0
    events = feed(debouncer, steady(probs(**{before: strength}), change_at)
                  + steady(probs(**{after: strength}), 2.0))
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, before), (before, after)]
    delay = events[1].timestamp - change_at
    assert RESPONSIVE.dwell_s <= delay <= 0.3
    assert debouncer.current(1)[0] == after


def test_change_fires_exactly_after_dwell_without_smoothing():
    options = replace(RESPONSIVE, smoothing_s=0, dwell_s=0.5)
    debouncer = Debouncer(EMOTIONS, options)
    step = 0.125  # exact in binary floating point
    times = {}
    for k in range(64):
        t = k * step
        if t < 2.0:
            vec = HAPPY
        elif t < 4.0:
            vec = NEUTRAL
        elif t < 4.5:
            vec = HAPPY  # neutral -> happy, but only for 0.375 s: below the dwell
        elif t < 4.625:
            vec = NEUTRAL  # back: the pending change is dropped
        elif t < 5.0:
            vec = HAPPY  # again: the dwell restarts at 4.625
        else:
            vec = HAPPY
        event = debouncer.update(1, vec, t)
        if event is not None:
            times[t] = (event.previous, event.current)
    assert times == {0.5: (UNKNOWN, "happy"), 2.5: ("happy", "neutral"), 5.125: ("neutral", "happy")}


def test_zero_dwell_fires_on_the_first_frame():
    debouncer = Debouncer(EMOTIONS, replace(RESPONSIVE, smoothing_s=0, dwell_s=0))
    event = debouncer.update(7, HAPPY, 3.0)
    assert event is not None and (event.current, event.timestamp) == ("happy", 3.0)


def test_injected_clock_gives_the_timestamps():
    clock = ManualClock(100.0)
    debouncer = Debouncer(EMOTIONS, RESPONSIVE, clock=clock)
    events = []
    for _ in range(30):
        event = debouncer.update(1, HAPPY)
        if event is not None:
            events.append((event, clock.now))
        clock.advance(1 / FPS)
    assert len(events) == 1
    event, now = events[0]
    assert event.timestamp == now
    assert 100.0 + RESPONSIVE.dwell_s <= event.timestamp <= 100.3


# -- hysteresis ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("smoothing_s", [0.0, 0.1])
@pytest.mark.parametrize("lead", [0.0, 0.05, 0.09])
def test_challenger_leading_by_less_than_the_margin_never_takes_over(smoothing_s, lead):
    debouncer = Debouncer(EMOTIONS, replace(RESPONSIVE, smoothing_s=smoothing_s))
    close = probs(happy=0.4, neutral=0.4 + lead)
    events = feed(debouncer, steady(HAPPY, 1.0) + steady(close, 5.0))
    assert [e.current for e in events] == ["happy"]
    assert debouncer.current(1)[0] == "happy"


@pytest.mark.parametrize("smoothing_s", [0.0, 0.1])
def test_challenger_leading_by_more_than_the_margin_takes_over(smoothing_s):
    debouncer = Debouncer(EMOTIONS, replace(RESPONSIVE, smoothing_s=smoothing_s))
    clear = probs(happy=0.4, neutral=0.52)
    events = feed(debouncer, steady(HAPPY, 1.0) + steady(clear, 1.0))
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "happy"), ("happy", "neutral")]
    # ... and the hysteresis now protects the new emotion: happy back ahead by a little does not flip it.
    events = feed(debouncer, steady(probs(happy=0.47, neutral=0.4), 3.0), start=2.0)
    assert events == []
    assert debouncer.current(1)[0] == "neutral"


def test_no_margin_is_needed_to_leave_unknown():
    events = feed(Debouncer(EMOTIONS, RESPONSIVE), steady(probs(happy=0.42, neutral=0.40), 1.0))
    assert [e.current for e in events] == ["happy"]


def test_larger_margin_option_is_honoured():
    debouncer = Debouncer(EMOTIONS, replace(RESPONSIVE, margin=0.3))
    # happy stays above the floor (0.35) and neutral leads it by less than the margin: happy is kept.
    events = feed(debouncer, steady(HAPPY, 1.0) + steady(probs(happy=0.38, neutral=0.6), 3.0))
    assert [e.current for e in events] == ["happy"]


# -- flicker ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("flip", [NEUTRAL, probs(neutral=1.0, happy=0.0), probs(surprise=0.8)],
                         ids=["neutral-0.8", "neutral-one-hot", "surprise-0.8"])
@pytest.mark.parametrize("flip_frames", [1, 2])
@pytest.mark.parametrize("preset", list(STABILITY_PRESETS))
def test_one_or_two_frame_flips_of_a_steady_face_produce_no_event(flip, flip_frames, preset):
    stream = []
    for second in range(10):
        block = steady(HAPPY, 1.0)
        for k in range(flip_frames):  # a flip every half second
            block[10 + k] = flip
            block[25 + k] = flip
        stream += block
    events = feed(Debouncer(EMOTIONS, STABILITY_PRESETS[preset]), stream)
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "happy")]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("preset", list(STABILITY_PRESETS))
def test_noisy_steady_stream_of_10_s_gives_exactly_the_initial_event(seed, preset):
    rng = np.random.default_rng(seed)
    logits = np.zeros((int(10 * FPS), len(EMOTIONS)))
    logits[:, EMOTIONS.index("happy")] = 2.0
    logits += rng.normal(0.0, 0.8, logits.shape)
    stream = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # The per-frame prediction really is noisy: happy is not the top class in a good share of frames.
    assert np.mean(stream.argmax(axis=1) != EMOTIONS.index("happy")) > 0.1
    events = feed(Debouncer(EMOTIONS, STABILITY_PRESETS[preset]), stream)
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "happy")]
    # The presets that sum evidence read a face this uncertain (happy ~0.5) later: its lead over the floor is small.
    assert events[0].timestamp < (1.0 if preset == "responsive" else 2.5)


# -- confidence floor ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("preset", list(STABILITY_PRESETS))
def test_no_confident_class_stays_unknown_without_events(preset):
    debouncer = Debouncer(EMOTIONS, STABILITY_PRESETS[preset])
    assert feed(debouncer, steady(np.full(len(EMOTIONS), 1 / len(EMOTIONS)), 2.0)) == []
    assert debouncer.current(1) == (UNKNOWN, 0.0)


def test_dropping_below_the_floor_changes_to_unknown():
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    weak = probs(happy=0.3, neutral=0.3)
    events = feed(debouncer, steady(HAPPY, 1.0) + steady(weak, 1.0))
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "happy"), ("happy", UNKNOWN)]
    assert events[1].confidence == 0.0
    assert events[1].probabilities["happy"] == pytest.approx(0.3, abs=0.01)
    assert debouncer.current(1) == (UNKNOWN, 0.0)
    # Back from unknown to a confident class.
    events = feed(debouncer, steady(NEUTRAL, 1.0), start=2.0)
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "neutral")]


def test_confidence_floor_option_is_honoured():
    debouncer = Debouncer(EMOTIONS, replace(RESPONSIVE, confidence_floor=0.5))
    assert feed(debouncer, steady(probs(happy=0.45), 2.0)) == []
    assert feed(debouncer, steady(probs(happy=0.6), 1.0), start=2.0)[0].current == "happy"


# -- tracks -------------------------------------------------------------------------------------------------------

def test_tracks_are_independent():
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    events = []
    for i in range(int(3 * FPS)):
        t = i / FPS
        events.append(debouncer.update(1, HAPPY, t))
        # Track 2 appears one second later and changes at 2 s.
        if t >= 1.0:
            events.append(debouncer.update(2, NEUTRAL if t < 2.0 else probs(sad=0.8), t))
    fired = [(e.track_id, e.previous, e.current) for e in events if e is not None]
    assert fired == [(1, UNKNOWN, "happy"), (2, UNKNOWN, "neutral"), (2, "neutral", "sad")]
    second = [e for e in events if e is not None and e.track_id == 2][0]
    assert 1.0 + RESPONSIVE.dwell_s <= second.timestamp <= 1.3  # its own dwell, not track 1's
    assert debouncer.current(1)[0] == "happy"
    assert debouncer.current(2)[0] == "sad"
    assert debouncer.current(3) is None


def test_forget_and_reset_start_tracks_afresh():
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    feed(debouncer, steady(HAPPY, 1.0), track_id=1)
    feed(debouncer, steady(HAPPY, 1.0), track_id=2)
    debouncer.forget(1)
    debouncer.forget(99)  # unknown ids are fine
    assert debouncer.current(1) is None
    assert debouncer.current(2)[0] == "happy"
    events = feed(debouncer, steady(HAPPY, 1.0), start=1.0, track_id=1)
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "happy")]
    assert events[0].timestamp >= 1.0 + RESPONSIVE.dwell_s
    debouncer.reset()
    assert debouncer.current(1) is None and debouncer.current(2) is None
    events = feed(debouncer, steady(HAPPY, 1.0), start=2.0, track_id=2)
    assert [(e.previous, e.current) for e in events] == [(UNKNOWN, "happy")]


def test_custom_class_names():
    debouncer = Debouncer(("calm", "excited"), replace(RESPONSIVE, smoothing_s=0, dwell_s=0))
    event = debouncer.update(1, np.array([0.1, 0.9]), 0.0)
    assert event.current == "excited" and set(event.probabilities) == {"calm", "excited"}


# -- bad input ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, fragment", [
    ({"smoothing_s": -0.1}, "smoothing_s"),
    ({"dwell_s": -1}, "dwell_s"),
    ({"margin": -0.1}, "margin"),
    ({"margin": 1.0}, "margin"),
    ({"confidence_floor": -0.01}, "confidence_floor"),
    ({"confidence_floor": 1.0}, "confidence_floor"),
])
def test_invalid_options_are_rejected(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        DebounceOptions(**kwargs)


@pytest.mark.parametrize("shape", [(6,), (8,), (1, 7), ()])
def test_wrong_number_of_probabilities_is_rejected(shape):
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    with pytest.raises(ValueError, match="expected 7 probabilities"):
        debouncer.update(1, np.full(shape, 0.1), 0.0)
    assert debouncer.current(1) is None


def test_non_finite_probabilities_are_rejected_and_leave_the_track_alone():
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    feed(debouncer, steady(HAPPY, 1.0))
    with pytest.raises(ValueError):
        debouncer.update(1, np.full(len(EMOTIONS), np.nan), 1.0)
    assert feed(debouncer, steady(HAPPY, 1.0), start=1.0 + 1 / FPS) == []
    assert debouncer.current(1) == ("happy", pytest.approx(0.8))


def test_a_non_finite_timestamp_is_rejected_and_leaves_the_track_alone():
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    feed(debouncer, steady(HAPPY, 1.0))
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="timestamp must be a finite number"):
            debouncer.update(1, NEUTRAL, bad)
    assert debouncer.current(1) == ("happy", pytest.approx(0.8))
    assert feed(debouncer, steady(HAPPY, 1.0), start=1.0 + 1 / FPS) == []


def test_an_emotion_below_the_floor_goes_within_the_dwell_even_when_its_rival_flickers_at_the_floor():
    """The current emotion fell below the floor; the best rival hovers at it, so the candidate alternates between
    unknown and that rival on every frame. The dwell runs from the fall, not from each flip."""
    debouncer = Debouncer(EMOTIONS, RESPONSIVE)
    feed(debouncer, steady(probs(happy=0.9, sad=0.02), 1.0))
    assert feed(debouncer, steady(probs(happy=0.5, sad=0.35), 1.0), start=1.0) == []  # happy leads: it stays
    flicker = [probs(happy=0.3, sad=0.3625 if i % 2 else 0.3375) for i in range(90)]
    events = feed(debouncer, flicker, start=2.0)
    assert [e.previous for e in events] == ["happy"] and events[0].current in ("sad", UNKNOWN)
    assert events[0].timestamp - 2.0 < 0.5  # smoothing (~0.1 s) brings happy under the floor, then 0.15 s of dwell
    assert debouncer.current(1)[0] != "happy"
