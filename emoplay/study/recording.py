"""One participant's session as an encrypted session log: events, stimulus markers, per-frame probabilities.

The log is an ordinary emoplay session log (``privacy/LOG_FORMAT.md``) opened with
the study-records flag; :class:`StudyRecorder` writes the study records through
:meth:`SessionLogWriter.write_study_record`. Nothing here sees a pixel: the
sensor's worker hands :class:`FrameTap` each frame's :class:`~emoplay.pipeline.FrameResult`
(boxes, track ids, probabilities), the tap keeps the primary face's probabilities
and its capture time, and the host thread maps that time to the stimulus's media
time with the :class:`Playhead`.
"""

from __future__ import annotations

import collections
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._events import EMOTIONS, EmotionChanged, FaceFound, FaceLost
from ..sessionlog import LogKey, SessionLogWriter

DIGITS = 6  # probabilities and media times are logged rounded to 1e-6
BASELINE = "_baseline"  # the stimulus id of frames recorded during the calibration step
PRE_STIMULUS = "_pre-"  # + a stimulus id: the frames of the rest / fixation screen just before that stimulus


def pre_stimulus_id(stimulus: str) -> str:
    return PRE_STIMULUS + stimulus


def is_segment(stimulus: str) -> bool:
    """True for the calibration and pre-stimulus segments (their ids start with "_"; stimulus ids cannot)."""
    return stimulus.startswith("_")


@dataclass(frozen=True)
class FrameSample:
    """What one processed camera frame contributes: capture time, primary track, its probabilities."""

    timestamp: float
    track: int | None
    probabilities: tuple[float, ...] | None  # in EMOTIONS order; None when no primary face was in the frame


class FrameTap:
    """The sensor's ``on_frame`` callback: keeps the primary face's probabilities per frame, nothing else.

    Runs on the sensor's worker thread; the host drains it with :meth:`drain`.
    A deque's append and popleft are thread-safe, so no lock is needed.
    """

    def __init__(self, max_samples: int = 3000) -> None:
        self._samples: collections.deque[FrameSample] = collections.deque(maxlen=max_samples)

    def __call__(self, timestamp: float, result) -> None:
        primary = result.primary_id
        probabilities = None
        if primary is not None and primary in result.track_ids:
            row = result.probabilities[result.track_ids.index(primary)]
            if len(row) != len(EMOTIONS):
                raise ValueError(f"the emotion model gives {len(row)} classes; a study needs the {len(EMOTIONS)} "
                                 f"of emoplay ({', '.join(EMOTIONS)})")
            probabilities = tuple(round(float(p), DIGITS) for p in row)
        else:
            primary = None
        self._samples.append(FrameSample(float(timestamp), primary, probabilities))

    def drain(self) -> list[FrameSample]:
        out = []
        while self._samples:
            out.append(self._samples.popleft())
        return out

    def clear(self) -> None:
        self._samples.clear()


class Playhead:
    """Media time of the stimulus being shown, as a function of the monotonic clock (pauses stop it)."""

    def __init__(self) -> None:
        self._segments: list[list] = []  # [clock start, clock end or None, media time at start]

    def start(self, at: float) -> None:
        self._segments = [[at, None, 0.0]]

    @property
    def running(self) -> bool:
        return bool(self._segments) and self._segments[-1][1] is None

    def pause(self, at: float) -> None:
        if self.running:
            self._segments[-1][1] = at

    def resume(self, at: float) -> None:
        if self._segments and not self.running:
            start, end, media = self._segments[-1]
            self._segments.append([at, None, media + (end - start)])

    def stop(self, at: float, limit: float | None = None) -> float:
        """Stop at clock time ``at``, or earlier at the moment media time reached ``limit``; returns that time."""
        if self.running and limit is not None:
            start, _, media = self._segments[-1]
            at = max(start, min(at, start + (limit - media)))
        self.pause(at)
        return at

    def media_time(self, at: float) -> float | None:
        """Media time at clock time ``at``; None before the start, during a pause or after the stop."""
        for start, end, media in self._segments:
            if start <= at and (end is None or at < end):
                return media + (at - start)
        return None

    def now(self, at: float) -> float:
        """Media time at ``at``, holding the last value during a pause (for the screen)."""
        value = self.media_time(at)
        if value is not None:
            return value
        if not self._segments:
            return 0.0
        start, end, media = self._segments[-1]
        return media + ((end if end is not None else at) - start)


class StudyRecorder:
    """Writes one participant's study session to a new encrypted log (``with`` closes it)."""

    def __init__(self, path: str | Path, key: LogKey, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._writer = SessionLogWriter(path, key, include_probabilities=True, study_records=True, clock=clock)
        self.frames_written = 0

    def started(self, t: float, *, study: str, title: str, fingerprint: str, participant: str, group: str,
                order: list[str], seed: int | None, calibration: str, emoplay: str, model: str) -> None:
        self._writer.write_study_record("StudyStarted", t, study=study, title=title, fingerprint=fingerprint,
                                        participant=participant, group=group, order=order, seed=seed,
                                        calibration=calibration, emoplay=emoplay, model=model)

    def calibration(self, t: float, outcome: str, detail: str) -> None:
        self._writer.write_study_record("CalibrationStep", t, outcome=outcome, detail=detail)

    def stimulus_started(self, t: float, stimulus: str, title: str, position: int, duration: float) -> None:
        self._writer.write_study_record("StimulusStarted", t, stimulus=stimulus, title=title, position=position,
                                        duration=round(float(duration), DIGITS))

    def stimulus_ended(self, t: float, stimulus: str, media_time: float, reason: str) -> None:
        self._writer.write_study_record("StimulusEnded", t, stimulus=stimulus,
                                        media_time=round(float(media_time), DIGITS), reason=reason)

    def paused(self, t: float, stimulus: str | None, media_time: float | None) -> None:
        self._writer.write_study_record("StudyPaused", t, stimulus=stimulus, media_time=_rounded(media_time))

    def resumed(self, t: float, stimulus: str | None, media_time: float | None) -> None:
        self._writer.write_study_record("StudyResumed", t, stimulus=stimulus, media_time=_rounded(media_time))

    def event(self, event: object) -> None:
        """Log an emotion or face event (other event types are not logged)."""
        if isinstance(event, (EmotionChanged, FaceFound, FaceLost)):
            self._writer.write(event)

    def frames(self, samples: list[FrameSample], stimulus: str, playhead: Playhead) -> int:
        """Log the samples captured while ``stimulus`` played; returns how many (others are dropped)."""
        written = 0
        for sample in samples:
            media_time = playhead.media_time(sample.timestamp)
            if media_time is None:
                continue
            face = sample.probabilities is not None
            self._writer.write_study_record(
                "FrameProbabilities", sample.timestamp, stimulus=stimulus, media_time=round(media_time, DIGITS),
                face=face, track=sample.track,
                probabilities=dict(zip(EMOTIONS, sample.probabilities)) if face else None)
            written += 1
        self.frames_written += written
        return written

    def close(self) -> None:
        self._writer.close()

    def __enter__(self) -> StudyRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), DIGITS)
