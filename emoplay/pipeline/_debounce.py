"""Per-face smoothing and debouncing: from noisy per-frame probabilities to rare, real changes.

Each track keeps an exponential moving average of its class probabilities
with time constant ``smoothing_s`` (so the result does not depend on frame
rate). A challenger replaces the held emotion only when

* its smoothed probability is at least ``confidence_floor``,
* it leads the held emotion by ``margin`` (hysteresis: two close classes do
  not flip back and forth; waived while the held emotion is below the floor),
* it has led that way for ``dwell_s`` seconds (without a break; with
  ``evidence``, since its sum began), and
* with ``evidence`` > 0, its lead beyond the margin, summed over time, reached
  ``evidence`` (probability x seconds). The sum grows by ``(lead - margin) *
  dt`` and shrinks the same way while the challenger trails, never below 0
  (a CUSUM change detector): a clear lead is accepted quickly, a marginal one
  slowly, and a face that alternates between two expressions (a talking
  mouth read as happy, then neutral, then happy) empties the sum at each
  return, so no alternation adds up to a change.

With ``noise_gain`` > 0 (which needs ``evidence`` on), the evidence a challenger
needs to replace a held emotion grows with how unsteady the face's reading has
been: it is ``evidence * (1 + noise_gain * returns)``, where ``returns`` counts
the times the smoothed reading's leader went back to the class it had left less
than ``noise_window_s`` before (A -> B -> A, each switch by a lead of at least
``margin`` and at least :data:`RETURN_LEAD`), each forgotten with that time
constant. This scales the change detector's threshold with the noise it sees, as a
CUSUM's decision interval is set in units of the signal's spread: a face
whose reading keeps alternating (a talking mouth read as happy, neutral,
surprise) changes only on a long, clear lead, while a settled face's clean
change (one switch, no return) is as fast as without it. Only the floor route
is not scaled: a held emotion that stays under the floor still ends after
``dwell_s + floor_hold_s``, and then the best challenger with the unscaled
evidence takes over (else ``unknown``); a face's first reading is not scaled
either.

With ``min_hold_s``, an emotion reached by a change from another reading is
held at least that long: the dwell and the evidence keep counting, and a
challenger still proven when the hold ends takes over then. A face's first
reading (leaving ``unknown``) is not held back, so a sustained change from a
settled face is reported as fast as without it; a second change within the
hold waits for its end.

A held emotion ends as ``unknown`` (no guess) when its smoothed probability
stays below the floor for ``dwell_s + floor_hold_s`` without a break and no
challenger qualifies: a dip of a few frames does not make a readable face
unknown, a face the model cannot read does. From ``unknown`` the best class
above the floor takes over after the dwell (and, with ``evidence``, once its
lead over the floor sums to it).

Presets (:data:`STABILITY_PRESETS`, chosen by name with ``stability=``) trade
latency for calm. A clean, sustained change of a settled face at 30 fps is
reported within about 0.3 s with ``responsive``, 0.4 s with ``balanced`` (the
default) and 0.5 s with ``dialogue``, which then holds the new emotion at least
4 s and, right after talk, waits about 1.5-2 s for a change; on a talking face the
last two change far less often (the measured trade-off: ``benchmarks/stability.py``,
benchmarks/README.md). The hold also delays the end of an emotion whose face
becomes unreadable: it turns ``unknown`` after the later of ``dwell_s +
floor_hold_s`` below the floor and the end of the hold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .._checks import check_number
from .._clock import Clock, monotonic_clock
from .._events import UNKNOWN, EmotionChanged


@dataclass(frozen=True)
class DebounceOptions:
    """How a face's emotion is smoothed and when it changes. The defaults are the ``balanced`` preset;
    ``DebounceOptions.preset(name)`` gives any of :data:`STABILITY_PRESETS`."""

    smoothing_s: float = 0.05  # EMA time constant, seconds
    margin: float = 0.2  # a challenger must lead the held emotion by this much
    dwell_s: float = 0.15  # ... continuously for this long
    confidence_floor: float = 0.35  # no emotion is taken, or held for long, below this
    evidence: float = 0.16  # ... and its lead beyond the margin must sum to this (probability x s); 0: off
    floor_hold_s: float = 1.0  # a held emotion below the floor ends as unknown after dwell_s + this
    min_hold_s: float = 0.0  # after a change from one reading to another, nothing changes for this long
    noise_gain: float = 0.0  # the evidence needed grows by this share per recent return of the reading; 0: off
    # (needs evidence > 0)
    noise_window_s: float = 3.0  # a return within this long of leaving counts, and fades with this time constant

    def __post_init__(self) -> None:
        check_number("DebounceOptions", "smoothing_s", self.smoothing_s, low=0)
        check_number("DebounceOptions", "dwell_s", self.dwell_s, low=0)
        check_number("DebounceOptions", "margin", self.margin, low=0, high=1, high_open=True)
        check_number("DebounceOptions", "confidence_floor", self.confidence_floor, low=0, high=1, high_open=True)
        check_number("DebounceOptions", "evidence", self.evidence, low=0)
        check_number("DebounceOptions", "floor_hold_s", self.floor_hold_s, low=0)
        check_number("DebounceOptions", "min_hold_s", self.min_hold_s, low=0)
        check_number("DebounceOptions", "noise_gain", self.noise_gain, low=0)
        check_number("DebounceOptions", "noise_window_s", self.noise_window_s, low=0, low_open=True)
        if self.noise_gain > 0 and self.evidence == 0:
            raise ValueError("DebounceOptions.noise_gain scales the evidence, which is off (evidence=0); "
                             "set evidence > 0 or noise_gain=0")

    @classmethod
    def preset(cls, name: str) -> "DebounceOptions":
        """The options of the preset ``name`` (one of :data:`STABILITY_PRESETS`)."""
        try:
            return STABILITY_PRESETS[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown stability preset {name!r}; choose one of "
                             f"{', '.join(STABILITY_PRESETS)}") from None


# Named trade-offs between latency and calm, measured in benchmarks/stability.py (benchmarks/README.md).
STABILITY_PRESETS: dict[str, DebounceOptions] = {
    # Action games and avatars: a clean change in ~0.25 s; a talking face's emotion flickers.
    "responsive": DebounceOptions(smoothing_s=0.1, margin=0.1, dwell_s=0.15, evidence=0.0, floor_hold_s=0.0),
    # The default: a clean change within ~0.4 s; short dips and most alternations of a talking face are ignored.
    "balanced": DebounceOptions(),
    # Branching stories: only sustained expressions change the emotion; a settled face's clean change within
    # ~0.5 s.
    # A face whose reading keeps alternating (talking) needs a longer, clearer lead than a settled face, and a
    # new emotion is held at least 4 s, so talk does not re-branch the story.
    "dialogue": DebounceOptions(margin=0.3, dwell_s=0.2, evidence=0.22, floor_hold_s=2.0, min_hold_s=4.0,
                                noise_gain=3.0, noise_window_s=2.0),
}
DEFAULT_STABILITY = "balanced"
# The least lead with which the reading's leader switches, for counting returns: with a margin of 0, two tied
# classes' jitter would otherwise count as an unsteady face.
RETURN_LEAD = 0.1


def resolve_debounce(debounce: DebounceOptions | None, stability: str | None) -> DebounceOptions:
    """The options in force: explicit ``debounce`` options win over a ``stability`` preset, which wins over
    the default preset."""
    if debounce is not None:
        if not isinstance(debounce, DebounceOptions):
            raise TypeError(f"debounce must be DebounceOptions or None, got {debounce!r}")
        return debounce
    return DebounceOptions.preset(DEFAULT_STABILITY if stability is None else stability)


@dataclass
class _TrackState:
    smoothed: np.ndarray
    updated_at: float
    evidence: np.ndarray  # per class: its lead over the held emotion beyond the margin, summed over time
    current: str = UNKNOWN
    pending: str | None = None  # the challenger now leading, and since when without a break
    pending_since: float = 0.0
    below_since: float | None = None  # since when the held emotion is below the floor
    hold_until: float = -math.inf  # no change before this time (min_hold_s after a change between readings)
    leader: int = -1  # the class the smoothed reading favours (switching needs a lead of the margin), and
    left: int = -1  # the one it favoured before, and
    left_at: float = -math.inf  # when it switched
    returns: float = 0.0  # recent switches back to ``left``, decaying with noise_window_s


@dataclass
class Debouncer:
    """Debounces every track's emotion. ``update`` returns the ``EmotionChanged`` event it decided, if any."""

    class_names: tuple[str, ...]
    options: DebounceOptions = field(default_factory=DebounceOptions)
    clock: Clock = monotonic_clock

    def __post_init__(self) -> None:
        self._tracks: dict[int, _TrackState] = {}

    def update(self, track_id: int, probabilities: np.ndarray, timestamp: float | None = None) -> EmotionChanged | None:
        now = self.clock() if timestamp is None else timestamp
        if not math.isfinite(now):
            raise ValueError(f"timestamp must be a finite number of seconds, got {now!r}; the frame was ignored")
        probs = np.asarray(probabilities, np.float64)
        if probs.shape != (len(self.class_names),):
            raise ValueError(f"expected {len(self.class_names)} probabilities, got shape {probs.shape}")
        if not np.all(np.isfinite(probs)):
            raise ValueError("probabilities must be finite numbers (got NaN or inf); the frame was ignored")
        state = self._tracks.get(track_id)
        if state is None:
            state = self._tracks[track_id] = _TrackState(smoothed=probs.copy(), updated_at=now,
                                                         evidence=np.zeros(len(self.class_names)))
            dt = 0.0
        else:
            dt = max(now - state.updated_at, 0.0)
            if now < state.updated_at:  # the stream's clock went back (a restarted video): the hold goes with it,
                state.hold_until = min(state.hold_until, now + self.options.min_hold_s)
                state.left = -1  # and the leader's last switch, whose time is now in the future
            alpha = 1.0 if self.options.smoothing_s == 0 else 1.0 - math.exp(-dt / self.options.smoothing_s)
            state.smoothed += alpha * (probs - state.smoothed)
            state.updated_at = now
        decided = self._decide(state, now, dt)
        if decided is None:
            return None
        previous, state.current = state.current, decided
        state.pending, state.below_since = None, None
        if previous != UNKNOWN and decided != UNKNOWN:
            state.hold_until = now + self.options.min_hold_s
        state.evidence.fill(0.0)
        confidence = 0.0 if decided == UNKNOWN else float(state.smoothed[self.class_names.index(decided)])
        return EmotionChanged(
            track_id=track_id, previous=previous, current=decided, confidence=confidence,
            probabilities=dict(zip(self.class_names, (float(p) for p in state.smoothed))), timestamp=now,
        )

    def _count_returns(self, state: _TrackState, top: int, now: float, dt: float) -> None:
        """Follows the smoothed reading's leader (``top`` is its best class now) and counts its quick returns
        (A -> B -> A within ``noise_window_s``): the face's unsteadiness. A change that lasted longer is not
        noise."""
        options, smoothed = self.options, state.smoothed
        state.returns *= math.exp(-dt / options.noise_window_s)
        if state.leader < 0:
            state.leader = top
        elif top != state.leader and smoothed[top] - smoothed[state.leader] >= max(options.margin, RETURN_LEAD):
            if top == state.left and now - state.left_at <= options.noise_window_s:
                state.returns += 1.0
            state.left, state.leader, state.left_at = state.leader, top, now

    def _decide(self, state: _TrackState, now: float, dt: float) -> str | None:
        """The emotion the track changes to on this frame, or None to keep the held one."""
        options, smoothed = self.options, state.smoothed
        floor = options.confidence_floor
        held = None if state.current == UNKNOWN else self.class_names.index(state.current)
        if held is None:
            held_p, margin = floor, 0.0  # leaving unknown: a lead over the floor, no margin
        else:
            held_p = float(smoothed[held])
            margin = 0.0 if held_p < floor else options.margin  # hysteresis, but never below the floor
            if held_p < floor:
                state.below_since = now if state.below_since is None else state.below_since
            else:
                state.below_since = None
        if options.evidence > 0:
            state.evidence += dt * (smoothed - held_p - margin)
            np.maximum(state.evidence, 0.0, out=state.evidence)
            if held is not None:
                state.evidence[held] = 0.0
        top = int(np.argmax(smoothed))
        if options.noise_gain > 0:  # the returns only scale the evidence
            self._count_returns(state, top, now, dt)
        top_p = float(smoothed[top])
        leads = top != held and top_p >= floor and top_p - held_p >= margin
        challenger = self.class_names[top] if leads else None
        if challenger != state.pending and not self._still_pending(state, challenger):
            state.pending, state.pending_since = challenger, now

        def reaches(needed: float) -> bool:
            return challenger is not None and (options.evidence == 0 or state.evidence[top] >= needed)

        proven = reaches(options.evidence if held is None
                         else options.evidence * (1.0 + options.noise_gain * state.returns))
        if now < state.hold_until:
            return None  # the evidence and the dwell keep counting; a challenger still proven takes over after
        if proven and now - state.pending_since >= options.dwell_s:
            return challenger
        if state.below_since is not None and now - state.below_since >= options.dwell_s + options.floor_hold_s:
            # The held emotion's time below the floor is up: a challenger with the unscaled evidence takes over
            # even if it has led for less than the dwell (however the candidate flickered since the fall), else
            # no guess.
            return challenger if reaches(options.evidence) else UNKNOWN
        return None

    def _still_pending(self, state: _TrackState, challenger: str | None) -> bool:
        """With evidence on, a challenger that trails for a frame keeps its dwell while its evidence is not
        spent: the dwell counts from the start of its evidence, not from its latest unbroken lead."""
        return challenger is None and state.pending is not None and self.options.evidence > 0 \
            and state.evidence[self.class_names.index(state.pending)] > 0

    def current(self, track_id: int) -> tuple[str, float] | None:
        """The track's debounced (emotion, smoothed probability of it); ``("unknown", 0.0)`` when unsure,
        None for a track not seen."""
        state = self._tracks.get(track_id)
        if state is None:
            return None
        if state.current == UNKNOWN:
            return UNKNOWN, 0.0
        return state.current, float(state.smoothed[self.class_names.index(state.current)])

    def smoothed(self, track_id: int) -> np.ndarray | None:
        """A copy of the track's smoothed probabilities (in ``class_names`` order); None for a track not seen."""
        state = self._tracks.get(track_id)
        return None if state is None else state.smoothed.copy()

    def forget(self, track_id: int) -> None:
        self._tracks.pop(track_id, None)

    def reset(self) -> None:
        self._tracks.clear()
