"""Study material: stimulus clips cut from the shared videos, a tone, a study file."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

STIMULUS_SECONDS = 2.0
SIZE = (320, 180)


def cut_clip(source: Path, target: Path, seconds: float, size: tuple[int, int] = SIZE) -> int:
    """The first ``seconds`` of ``source``, resized, written with cv2.VideoWriter; returns the frame count."""
    import cv2

    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    count = 0
    while count < int(seconds * fps):
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size))
        count += 1
    writer.release()
    cap.release()
    assert count > 0, f"could not read {source}"
    return count


def write_tone(path: Path, seconds: float, rate: int = 22050) -> Path:
    samples = (np.sin(np.arange(int(seconds * rate)) * 2 * np.pi * 440 / rate) * 3000).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


STUDY_TOML = """\
id = "reactions"
title = "Reactions to two clips"
order = "shuffled"
calibration = true
calibration_seconds = 1
rest_seconds = 0.5
groups = ["18-29", "50+"]
researcher = "Test lab"

[[stimuli]]
id = "animation"
file = "animation.mp4"
title = "An animation"
audio = "animation.wav"

[[stimuli]]
id = "room"
file = "room.mp4"
title = "A man leaves the room"
"""
