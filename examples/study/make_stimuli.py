"""Make the example study's stimuli: two short video clips, a still image and a sound, drawn by code.

    python make_stimuli.py              # writes stimuli/ beside this file
    python make_stimuli.py --out DIR

Everything is computed from fixed formulas (no randomness, no downloads), so every run draws the same
pictures; only the video container's bytes may differ between OpenCV versions. Needs numpy and OpenCV,
which emoplay installs.
"""

from __future__ import annotations

import argparse
import sys
import wave
from pathlib import Path

import numpy as np

SIZE = (480, 270)  # width, height: small files; the study window letterboxes them
FPS = 15
CLIP_SECONDS = 3.0
FLASH_AT_S = 1.5  # when the flash clip's flash (and its sound) comes
AUDIO_RATE = 22050


def drift_frame(t: float) -> np.ndarray:
    """Calm colours: a blue-green gradient that slowly shifts, a soft circle gliding across."""
    import cv2

    width, height = SIZE
    x = np.linspace(0.0, 1.0, width, dtype=np.float32)
    shift = 0.5 + 0.5 * np.sin(2 * np.pi * (x[None, :] + t / 6.0))
    blue = np.broadcast_to(120 + 100 * shift, (height, width))
    green = np.broadcast_to(90 + 60 * (1 - shift), (height, width))
    red = np.full((height, width), 40, np.float32)
    frame = np.dstack([blue, green, red]).astype(np.uint8)  # OpenCV's channel order: B, G, R
    centre = (int(width * (0.2 + 0.6 * t / CLIP_SECONDS)), int(height * (0.5 + 0.15 * np.sin(t * 2))))
    cv2.circle(frame, centre, 30, (230, 220, 180), -1, cv2.LINE_AA)
    return frame


def flash_frame(t: float) -> np.ndarray:
    """A dark screen, then at FLASH_AT_S a white flash and a yellow ring that grows as it fades."""
    import cv2

    width, height = SIZE
    frame = np.full((height, width, 3), 25, np.uint8)
    since = t - FLASH_AT_S
    if since >= 0:
        fade = max(0.0, 1.0 - since / 0.6)
        frame[:] = np.uint8(25 + 230 * fade)
        radius = int(10 + 220 * since)
        cv2.circle(frame, (width // 2, height // 2), radius, (0, 220, 255), 12, cv2.LINE_AA)
    return frame


def smiley_image() -> np.ndarray:
    """A yellow smiley face on a light background."""
    import cv2

    width, height = SIZE
    image = np.full((height, width, 3), (235, 225, 215), np.uint8)
    centre = (width // 2, height // 2)
    cv2.circle(image, centre, 110, (40, 200, 250), -1, cv2.LINE_AA)
    cv2.circle(image, centre, 110, (30, 60, 90), 4, cv2.LINE_AA)
    for dx in (-38, 38):
        cv2.ellipse(image, (centre[0] + dx, centre[1] - 30), (12, 20), 0, 0, 360, (30, 40, 60), -1, cv2.LINE_AA)
    cv2.ellipse(image, (centre[0], centre[1] + 10), (60, 50), 0, 20, 160, (30, 40, 60), 8, cv2.LINE_AA)
    return image


def write_video(path: Path, draw) -> None:
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    if not writer.isOpened():
        raise SystemExit(f"OpenCV cannot write {path} (no mp4v encoder in this OpenCV build)")
    try:
        for index in range(int(CLIP_SECONDS * FPS)):
            writer.write(draw(index / FPS))
    finally:
        writer.release()


def write_flash_sound(path: Path) -> None:
    """Silence, then a short 880 Hz chime at FLASH_AT_S that decays, as 16-bit mono WAV."""
    t = np.arange(int(CLIP_SECONDS * AUDIO_RATE)) / AUDIO_RATE
    since = t - FLASH_AT_S
    chime = np.where(since >= 0, np.sin(2 * np.pi * 880 * t) * np.exp(-np.clip(since, 0, None) * 4), 0.0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(AUDIO_RATE)
        out.writeframes((chime * 12000).astype("<i2").tobytes())


def main(argv: list[str] | None = None) -> int:
    import cv2

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "stimuli",
                        help="folder for the stimuli (default: stimuli/ beside this script)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    write_video(args.out / "drift.mp4", drift_frame)
    write_video(args.out / "flash.mp4", flash_frame)
    write_flash_sound(args.out / "flash.wav")
    if not cv2.imwrite(str(args.out / "smiley.png"), smiley_image()):
        raise SystemExit(f"OpenCV cannot write {args.out / 'smiley.png'}")
    print(f"wrote drift.mp4, flash.mp4 (with flash.wav) and smiley.png to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
