"""Media for a study run: the stimulus players, and a video file played as the participant's camera.

:class:`StimulusPlayer` decodes a stimulus with OpenCV and hands the frame due at
a media time, scaled to fit the window; its sound is a side-car file played with
``pygame.mixer`` (OpenCV does not decode audio). :class:`ImagePlayer` does the same
for a still image shown for a fixed time; :func:`player_for` picks one. :class:`VideoAsCamera` feeds a
participant video into a live :class:`~emoplay.MemorySource` at the video's own
speed, looping, stamping each frame with the clock as a camera would — so
``--source FILE`` goes through the same consent, indicator and pipeline path as
a webcam.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Callable

from .._errors import StudyError
from .._media_files import open_video_capture
from .._quiet_opencv import quiet_opencv


def probe_video(path: Path) -> tuple[float, int, float]:
    """(fps, frame count, duration in seconds) of a video; :class:`StudyError` when OpenCV cannot read it."""
    import cv2

    if not Path(path).exists():
        raise StudyError(f"{path} does not exist; check the path")
    with quiet_opencv():  # no "moov atom not found" from FFmpeg before our own error
        cap = open_video_capture(Path(path), StudyError)
    try:
        ok = cap.isOpened() and cap.read()[0]
        fps = cap.get(cv2.CAP_PROP_FPS) if ok else 0.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if ok else 0
    finally:
        cap.release()
    if not ok:
        raise StudyError(f"cannot decode {path}: not a video OpenCV can read; re-encode it (e.g. H.264 .mp4)")
    fps = fps if fps and 1 <= fps <= 240 else 30.0
    if count <= 0:
        raise StudyError(f"{path} reports no frames; re-encode it (e.g. H.264 .mp4)")
    return fps, count, count / fps


class StimulusPlayer:
    """Frames of one stimulus by media time, letterboxed to ``size``; the side-car sound if there is one."""

    def __init__(self, path: Path, size: tuple[int, int], audio: Path | None = None) -> None:
        self.path, self.size, self.audio = path, size, audio
        self.fps, self.frame_count, self.duration = probe_video(path)
        self._cap = open_video_capture(Path(path), StudyError)
        self._next = 0  # index of the next frame the capture will decode
        self._surface = None
        self.sound = False

    def start_sound(self) -> None:
        if self.audio is None:
            return
        import pygame

        try:
            if not pygame.mixer.get_init():
                pygame.mixer.init()
            pygame.mixer.music.load(str(self.audio))
            pygame.mixer.music.play()
            self.sound = True
        except pygame.error as exc:
            print(f"emoplay study: warning: no sound for {self.path.name}: {exc}", file=sys.stderr)

    def pause_sound(self) -> None:
        if self.sound:
            import pygame

            pygame.mixer.music.pause()

    def resume_sound(self) -> None:
        if self.sound:
            import pygame

            pygame.mixer.music.unpause()

    def frame_at(self, media_time: float):
        """The pygame surface to show at ``media_time`` (frames behind schedule are skipped), or None at the end."""
        import cv2
        import pygame

        target = int(media_time * self.fps)
        if target >= self.frame_count:
            return None
        if target < self._next and self._surface is not None:
            return self._surface
        while self._next < target:  # behind schedule: skip without decoding
            if not self._cap.grab():
                return None
            self._next += 1
        ok, bgr = self._cap.read()
        if not ok:
            return None
        self._next += 1
        h, w = bgr.shape[:2]
        scale = min(self.size[0] / w, self.size[1] / h)
        fitted = cv2.resize(bgr, (max(int(w * scale), 1), max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(fitted, cv2.COLOR_BGR2RGB)
        self._surface = pygame.image.frombuffer(rgb.tobytes(), (rgb.shape[1], rgb.shape[0]), "RGB")
        return self._surface

    def close(self) -> None:
        if self.sound:
            import pygame

            pygame.mixer.music.stop()
            self.sound = False
        self._cap.release()
        self._surface = None

    def __enter__(self) -> StimulusPlayer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def probe_image(path: Path) -> tuple[int, int]:
    """(width, height) of a still image; :class:`StudyError` when OpenCV cannot read it."""
    import cv2

    if not Path(path).exists():
        raise StudyError(f"{path} does not exist; check the path")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise StudyError(f"cannot decode {path}: not an image OpenCV can read; save it as .png or .jpg")
    return image.shape[1], image.shape[0]


class ImagePlayer(StimulusPlayer):
    """A still image as a stimulus: the same picture at every media time until ``seconds``; sound as a video's."""

    def __init__(self, path: Path, size: tuple[int, int], seconds: float, audio: Path | None = None) -> None:
        import cv2
        import pygame

        self.path, self.size, self.audio = path, size, audio
        probe_image(path)
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        self.fps, self.duration = 30.0, float(seconds)  # fps: how often the runner redraws it
        self.frame_count = int(round(seconds * self.fps))
        h, w = bgr.shape[:2]
        scale = min(size[0] / w, size[1] / h)
        fitted = cv2.resize(bgr, (max(int(w * scale), 1), max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(fitted, cv2.COLOR_BGR2RGB)
        self._surface = pygame.image.frombuffer(rgb.tobytes(), (rgb.shape[1], rgb.shape[0]), "RGB").copy()
        self._cap = None
        self.sound = False

    def frame_at(self, media_time: float):
        return self._surface if media_time < self.duration else None

    def close(self) -> None:
        if self.sound:
            import pygame

            pygame.mixer.music.stop()
            self.sound = False
        self._surface = None


def player_for(stimulus, size: tuple[int, int]) -> StimulusPlayer:
    """The player of a study stimulus: a video's, or a still image's for its ``seconds``."""
    if stimulus.is_image:
        return ImagePlayer(stimulus.file, size, stimulus.seconds, stimulus.audio)
    return StimulusPlayer(stimulus.file, size, stimulus.audio)


class VideoAsCamera:
    """Play a video file into a live MemorySource at its own speed, looping, like a camera would deliver it."""

    def __init__(self, path: Path, sensor, clock: Callable[[], float] = time.monotonic) -> None:
        self.path, self.sensor, self.clock = Path(path), sensor, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        probe_video(self.path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._feed, name="emoplay-study-video-camera", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        from ..sensor._sources import EndOfStream, VideoFileSource

        # The source paces the frames at the file's rate (and restarts its schedule after a stall instead of
        # bursting); a read waits at most 0.1 s, so a stop is seen within that.
        source = VideoFileSource(self.path, realtime=True, loop=True, clock=self.clock)
        try:
            source.open()
            while not self._stop.is_set():
                try:
                    frame = source.read(0.1)
                except EndOfStream:
                    return
                if frame is None:
                    continue  # the next frame is not due yet
                if self.sensor.camera_state.value == "capturing":
                    self.sensor.submit(frame.pixels, self.clock())
                del frame
        except BaseException as exc:  # noqa: BLE001 - reported by check()
            self._failure = exc
        finally:
            source.close()

    def check(self) -> None:
        """Raise what stopped the feeding thread, if anything did."""
        if self._failure is not None:
            raise StudyError(f"the participant video {self.path} stopped: {self._failure}") from self._failure

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
