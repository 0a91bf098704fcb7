"""Music that follows the scene's mood, synthesised with numpy (no audio files).

Each mood is a short seamless loop: a soft chord pad plus a plucked arpeggio, and for the
storm a low rumble of filtered noise. ``Music`` plays them through ``pygame.mixer`` and
crossfades when the mood changes; without an audio device it stays silent (``available``
is False and ``reason`` says why) and every call is a no-op.
"""

from __future__ import annotations

import os
import sys
import threading
from contextlib import contextmanager

import numpy as np

SAMPLE_RATE = 22050
FADE_MS = 900  # crossfade between moods: long enough to feel smooth, short enough to follow a reply
VOLUME = 0.55

# mood -> (seconds per chord, chords as MIDI notes, arpeggio notes per chord, noise level)
_MOODS: dict[str, tuple[float, list[list[int]], int, float]] = {
    "storm": (3.0, [[38, 45, 50, 53], [36, 43, 48, 51], [34, 41, 46, 50], [36, 43, 48, 51]], 0, 0.55),
    "warm": (2.0, [[48, 55, 60, 64, 67], [45, 52, 57, 60, 64], [41, 48, 53, 57, 60], [43, 50, 55, 59, 62]], 6, 0.0),
    "calm": (2.5, [[50, 57, 62, 64, 69], [47, 54, 59, 62, 66], [43, 50, 55, 57, 62], [45, 52, 57, 61, 64]], 4, 0.0),
    "tense": (1.5, [[45, 52, 57, 60], [46, 53, 58, 61], [45, 52, 57, 60], [44, 51, 56, 62]], 8, 0.12),
    "wonder": (2.5, [[53, 60, 64, 67, 71], [55, 62, 66, 69, 74], [52, 59, 64, 67, 71], [50, 57, 62, 66, 69]], 8, 0.0),
    "melancholy": (3.0, [[45, 52, 57, 60, 64], [41, 48, 53, 57, 60], [48, 55, 60, 64, 67], [43, 50, 55, 59, 62]], 3,
                   0.0),
    "triumph": (1.5, [[48, 55, 60, 64, 67], [53, 60, 65, 69, 72], [55, 62, 67, 71, 74], [48, 55, 60, 64, 72]], 8, 0.0),
}
MOODS = tuple(_MOODS)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def synthesize(mood: str, sample_rate: int = SAMPLE_RATE, seed: int = 7) -> np.ndarray:
    """One seamless loop for ``mood`` as float32 samples in [-1, 1], shape (n, 2)."""
    if mood not in _MOODS:
        raise ValueError(f"unknown mood {mood!r}; use one of {', '.join(MOODS)}")
    bar, chords, arp_per_bar, noise_level = _MOODS[mood]
    bar_n = int(bar * sample_rate)
    total = bar_n * len(chords)
    left = np.zeros(total, np.float64)
    right = np.zeros(total, np.float64)

    def add(signal: np.ndarray, start: int, pan: float) -> None:
        # Wrap around the loop end, so the loop restarts without a click.
        start %= total
        head = min(signal.size, total - start)
        for channel, gain in ((left, 1.0 - pan), (right, 1.0 + pan)):
            channel[start:start + head] += signal[:head] * gain
            channel[: signal.size - head] += signal[head:] * gain

    pad_n = int(bar_n * 1.5)  # each chord rings into the next one
    t_pad = np.arange(pad_n) / sample_rate
    pad_env = np.minimum(1.0, t_pad / 0.6) * np.exp(-t_pad / (bar * 1.2))
    for i, chord in enumerate(chords):
        for j, note in enumerate(chord):
            f = _hz(note)
            tone = np.sin(2 * np.pi * f * t_pad) + 0.3 * np.sin(2 * np.pi * 2 * f * t_pad + 0.5)
            add(0.05 * pad_env * tone, i * bar_n, pan=(j / max(1, len(chord) - 1) - 0.5) * 0.6)

    if arp_per_bar:
        step = bar_n // arp_per_bar
        pluck_n = int(sample_rate * 0.9)
        t_pl = np.arange(pluck_n) / sample_rate
        pluck_env = np.minimum(1.0, t_pl / 0.005) * np.exp(-t_pl / 0.25)
        for i, chord in enumerate(chords):
            upper = [n + 12 for n in chord[1:]] or [chord[0] + 12]
            for k in range(arp_per_bar):
                f = _hz(upper[(k * 2 + i) % len(upper)])
                tone = np.sin(2 * np.pi * f * t_pl) + 0.25 * np.sin(2 * np.pi * 3 * f * t_pl)
                add(0.07 * pluck_env * tone, i * bar_n + k * step, pan=0.35 if k % 2 else -0.35)

    if noise_level:
        rng = np.random.default_rng(seed)
        brown = np.cumsum(rng.standard_normal(total + sample_rate + 2000))
        window = 2001  # subtract a ~0.1 s moving average: removes the random walk's drift
        csum = np.concatenate([[0.0], np.cumsum(brown)])
        brown = brown[: brown.size - window + 1] - (csum[window:] - csum[:-window]) / window
        fade = np.linspace(0.0, 1.0, sample_rate)
        loop = brown[:total].copy()
        loop[:sample_rate] = loop[:sample_rate] * fade + brown[total:] * (1.0 - fade)  # crossfade the seam
        gust = 0.6 + 0.4 * np.sin(2 * np.pi * np.arange(total) / total * 2)
        loop *= gust * noise_level / (np.abs(loop).max() + 1e-9) * 0.5
        left += loop
        right += np.roll(loop, sample_rate // 50)

    out = np.stack([left, right], axis=1)
    peak = np.abs(out).max()
    if peak > 0:
        out *= 0.8 / peak
    return out.astype(np.float32)


@contextmanager
def native_stderr_silenced():
    """Send what C libraries write to stderr (file descriptor 2) to the null device for the duration.

    Without a sound card, ALSA prints nine ``ALSA lib ... cannot find card '0'`` lines while SDL probes
    it; the game's own answer (``Music.reason``, silence) is all a player needs. Python's own
    ``sys.stderr`` is left alone when it is not a real file (a test's capture, an IDE's console).
    """
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


class Music:
    """Mood music through pygame.mixer; silent (never raising) when there is no audio device."""

    def __init__(self, enabled: bool = True) -> None:
        import pygame

        self._pygame = pygame
        self._sounds: dict[str, object] = {}
        self._arrays: dict[str, np.ndarray] = {}
        self._prerender: threading.Thread | None = None
        self._pending: str | None = None
        self._channel = None
        self.mood: str | None = None
        self.available = False
        self.reason = "muted" if not enabled else ""
        self._owns_mixer = False
        if not enabled:
            return
        try:
            if not pygame.mixer.get_init():
                with native_stderr_silenced():  # ALSA prints a line for every sound card it cannot find
                    pygame.mixer.init(frequency=SAMPLE_RATE, size=-16, channels=2, buffer=1024)
                self._owns_mixer = True
            self._format = pygame.mixer.get_init()
            self.available = self._format is not None
        except pygame.error as exc:
            self.reason = f"no audio device ({exc})"
            return
        # Render every loop off the game thread, so a mood change never stalls a frame.
        self._prerender = threading.Thread(target=self._render_all, name="game-demo-music", daemon=True)
        self._prerender.start()

    def _render_all(self) -> None:
        for mood in MOODS:
            if mood not in self._arrays:
                self._arrays[mood] = synthesize(mood, sample_rate=self._format[0])

    def play(self, mood: str) -> None:
        """Crossfade to the loop of ``mood`` (no-op if it is already playing or audio is off).

        If its loop is still being rendered, it starts from ``update()`` once ready.
        """
        if mood == self.mood:
            return
        if mood not in _MOODS:
            raise ValueError(f"unknown mood {mood!r}; use one of {', '.join(MOODS)}")
        self.mood = mood
        self._pending = mood
        self.update()

    def update(self) -> None:
        """Call once a frame: starts a mood whose loop just finished rendering."""
        mood = self._pending
        if mood is None or not self.available or mood not in self._arrays:
            return
        self._pending = None
        try:
            sound = self._sound(mood)
            if self._channel is not None:
                self._channel.fadeout(FADE_MS)
            self._channel = sound.play(loops=-1, fade_ms=FADE_MS)
        except self._pygame.error as exc:
            self.available, self.reason = False, f"audio failed ({exc})"

    def set_paused(self, paused: bool) -> None:
        if self.available:
            (self._pygame.mixer.pause if paused else self._pygame.mixer.unpause)()

    def close(self) -> None:
        if self.available:
            self._pygame.mixer.stop()
            if self._owns_mixer:
                self._pygame.mixer.quit()
        self.available = False
        self._sounds.clear()
        if self._prerender is not None:
            self._prerender.join()
            self._prerender = None

    def _sound(self, mood: str):
        if mood not in self._sounds:
            freq, size, channels = self._format
            samples = self._arrays[mood]
            if channels == 1:
                samples = samples.mean(axis=1)
            elif channels > 2:
                samples = np.concatenate([samples, np.zeros((samples.shape[0], channels - 2), np.float32)], axis=1)
            if size in (-16, 16):
                data = (samples * 32767 * VOLUME).astype(np.int16)
            elif size == 32:  # float32 mixer
                data = (samples * VOLUME).astype(np.float32)
            else:
                data = (samples * 127 * VOLUME).astype(np.int8)
            sound = self._pygame.sndarray.make_sound(np.ascontiguousarray(data))
            self._sounds[mood] = sound
        return self._sounds[mood]
