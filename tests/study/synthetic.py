"""Synthetic study sessions with a known effect, written as real encrypted logs by the real StudyRecorder.

Each participant sees every stimulus after a calibration step and a pre-stimulus rest screen. A frame's
"happy" probability is the participant's level for that stimulus (a per-participant random level around the
group's mean) plus a response shared by everyone at the same moments of the stimulus, plus frame noise; the
other six expressions share the rest. ``effect`` raises one group's happy level at one stimulus: with
``level_sd`` the participants' spread, the true standardized effect is ``effect / level_sd``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emoplay import EMOTIONS
from emoplay.study.logs import ParticipantLog
from emoplay.study.recording import BASELINE, FrameSample, Playhead, StudyRecorder, pre_stimulus_id
from emoplay.study.series import Series

HAPPY = EMOTIONS.index("happy")


@dataclass(frozen=True)
class Design:
    groups: tuple[str, ...] = ("young", "old")
    per_group: int = 12
    stimuli: tuple[str, ...] = ("A", "B")
    seconds: float = 12.0
    fps: float = 10.0
    calibration_seconds: float = 3.0
    rest_seconds: float = 2.0
    base_happy: float = 0.20
    level_sd: float = 0.05  # participants' spread of their happy level
    frame_sd: float = 0.02
    shared: float = 0.15  # amplitude of the response everyone shows at the same moments
    effect: float = 0.05  # added to the happy level of `effect_group` at `effect_stimulus`
    effect_group: str = "old"
    effect_stimulus: str = "B"
    no_face_share: float = 0.05


def shared_response(stimulus_index: int, times: np.ndarray) -> np.ndarray:
    """A bump in happiness at a stimulus-specific moment (the same for every participant)."""
    centre = 3.0 + 2.0 * stimulus_index
    return np.exp(-0.5 * ((times - centre) / 1.0) ** 2)


def _probabilities(happy: np.ndarray) -> np.ndarray:
    happy = np.clip(happy, 0.001, 0.97)
    rest = (1.0 - happy) / (len(EMOTIONS) - 1)
    p = np.repeat(rest[:, None], len(EMOTIONS), axis=1)
    p[:, HAPPY] = happy
    return np.round(p, 6)


def participant_frames(design: Design, group: str, rng: np.random.Generator) -> dict[str, tuple]:
    """segment or stimulus id -> (times, probabilities [N, 7] or None rows where no face)."""
    out = {}
    rest_level = design.base_happy + rng.normal(0, design.level_sd / 2)
    for segment, seconds in ((BASELINE, design.calibration_seconds),):
        t = np.arange(0, seconds, 1 / design.fps)
        out[segment] = (t, _probabilities(rest_level + rng.normal(0, design.frame_sd, len(t))))
    for k, stimulus in enumerate(design.stimuli):
        if design.rest_seconds > 0:
            t = np.arange(0, design.rest_seconds, 1 / design.fps)
            out[pre_stimulus_id(stimulus)] = (t, _probabilities(rest_level + rng.normal(0, design.frame_sd, len(t))))
        t = np.arange(0, design.seconds, 1 / design.fps)
        level = design.base_happy + rng.normal(0, design.level_sd)
        if group == design.effect_group and stimulus == design.effect_stimulus:
            level += design.effect
        happy = level + design.shared * shared_response(k, t) + rng.normal(0, design.frame_sd, len(t))
        out[stimulus] = (t, _probabilities(happy))
    return out


def _faces(n: int, design: Design, rng: np.random.Generator) -> np.ndarray:
    return rng.random(n) >= design.no_face_share


def write_study(folder: Path, key, design: Design = Design(), seed: int = 0) -> list[Path]:
    """One log per participant in ``folder``; participants alternate between the groups."""
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(design.per_group * len(design.groups)):
        group = design.groups[i % len(design.groups)]
        frames = participant_frames(design, group, rng)
        path = folder / f"s{i:03d}.emolog"
        clock = 100.0 * (i + 1)
        with StudyRecorder(path, key, clock=lambda: 0.0) as rec:
            rec.started(clock, study="synthetic", title="Synthetic study", fingerprint="f", participant=f"id-{i}",
                        group=group, order=list(design.stimuli), seed=None, calibration="on", emoplay="x", model="m")
            clock += 1.0
            position = 0
            for segment, (t, p) in frames.items():
                is_stimulus = segment in design.stimuli
                position += is_stimulus
                duration = design.seconds if is_stimulus else t[-1] + 1 / design.fps
                head = Playhead()
                head.start(clock)
                rec.stimulus_started(clock, segment, segment, position if is_stimulus else 0, duration)
                face = _faces(len(t), design, rng)
                rec.frames([FrameSample(clock + ti, 1 if f else None, tuple(pi) if f else None)
                            for ti, pi, f in zip(t, p, face)], segment, head)
                rec.stimulus_ended(clock + duration, segment, duration, "finished")
                if segment == BASELINE:
                    rec.calibration(clock + duration, "done", "")
                clock += duration + 0.5
        paths.append(path)
    return paths


def series_study(design: Design, seed: int) -> dict[tuple[str, str], Series]:
    """The same participants as Series (no logs): for the many repetitions of a null study."""
    rng = np.random.default_rng(seed)
    out = {}
    for i in range(design.per_group * len(design.groups)):
        group = design.groups[i % len(design.groups)]
        label = f"P{i + 1:02d}"
        for segment, (t, p) in participant_frames(design, group, rng).items():
            face = _faces(len(t), design, rng)
            probs = np.where(face[:, None], p, np.nan)
            out[(label, segment)] = Series(label, group, segment, t, face, probs, float(t[-1] + 1 / design.fps))
    return out


def load(paths: list[Path], key) -> list[ParticipantLog]:
    from emoplay.study.logs import load_logs

    return load_logs(paths, key).participants
