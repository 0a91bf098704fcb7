"""Frame sources: a live camera, a video file, a folder of images, or frames the host submits.

Every source yields :class:`~emoplay._frames.Frame` objects with monotonic
timestamps in seconds. Live sources (camera, memory) keep only the newest
frame: when the pipeline is slower than the camera, stale frames are dropped,
never queued. ``read(timeout)`` returns ``None`` when no new frame arrived in
time and raises :class:`EndOfStream` when a finite source is exhausted.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from ._clock import Clock, monotonic_clock
from ._errors import CameraUnavailableError, SourceError, VideoReadError
from ._frames import Frame, check_pixels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class EndOfStream(Exception):
    """A finite source has no more frames (internal signal, not an error)."""


@runtime_checkable
class FrameSource(Protocol):
    """What the Sensor reads frames from; any object with these members can be passed as ``source``.

    ``read(timeout)`` returns a :class:`~emoplay.Frame`, ``None`` when no frame came within ``timeout``
    seconds, raises :class:`EndOfStream` when a finite source is exhausted and any other exception when it
    fails (the sensor then reports ``SensorFailed``). ``close()`` may be called from another thread while
    ``read()`` blocks, and more than once.
    """

    name: str
    is_live: bool  # a camera-like source: consent and the indicator apply

    def open(self) -> None: ...

    def read(self, timeout: float) -> Frame | None: ...

    def close(self) -> None: ...


class _LatestFrameSlot:
    """One slot, newest frame wins; a reader waits on a condition for a frame newer than the last it took."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.dropped = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify()

    def take(self, timeout: float) -> Frame | None:
        with self._cond:
            if self._frame is None:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def clear(self) -> None:
        with self._cond:
            self._frame = None


class CameraSource:
    """An OpenCV camera, by index (0) or device path ("/dev/video0"), read on its own thread."""

    is_live = True
    # How long the grab thread may take to notice a stop request: one frame period at 30 fps at most.
    _STOP_POLL_S = 0.03

    def __init__(self, device: int | str = 0, width: int | None = None, height: int | None = None,
                 fps: float | None = None, clock: Clock = monotonic_clock) -> None:
        self.device, self.width, self.height, self.fps, self.clock = device, width, height, fps, clock
        self.name = f"camera {device}"
        self._cap = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._slot = _LatestFrameSlot()
        self._failure: BaseException | None = None

    def open(self) -> None:
        import cv2

        if self._cap is not None:
            return
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailableError(
                f"cannot open {self.name}: no such camera, or it is busy or not permitted. Check that a camera is "
                "connected and not used by another program, run `emoplay doctor` to list cameras, or use a video "
                "file (--source FILE)")
        if self.width:
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        if self.height:
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            cap.set(cv2.CAP_PROP_FPS, self.fps)
        self._cap = cap
        self._stop.clear()
        self._slot.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._grab_loop, name="emoplay-camera", daemon=True)
        self._thread.start()

    def _grab_loop(self) -> None:
        index = 0
        misses = 0
        while not self._stop.is_set():
            ok, pixels = self._cap.read()
            if not ok or pixels is None:
                misses += 1
                if misses > 30:
                    self._failure = CameraUnavailableError(f"{self.name} stopped delivering frames (unplugged?)")
                    return
                self._stop.wait(self._STOP_POLL_S)
                continue
            misses = 0
            self._slot.put(Frame(pixels, self.clock(), index))
            index += 1

    def read(self, timeout: float) -> Frame | None:
        if self._failure is not None:
            raise self._failure
        return self._slot.take(timeout)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._slot.clear()


class VideoFileSource:
    """A video file, frame by frame. Timestamps come from the frame index and the file's frame rate."""

    is_live = False

    def __init__(self, path: str | Path, realtime: bool = False, loop: bool = False,
                 clock: Clock = monotonic_clock) -> None:
        self.path = Path(path)
        self.realtime, self.loop, self.clock = realtime, loop, clock
        self.name = str(self.path)
        self._cap = None
        self._index = 0
        self._offset = 0.0
        self._started_at = 0.0
        self.fps = 0.0

    def open(self) -> None:
        import cv2

        if self._cap is not None:
            return
        if not self.path.is_file():
            raise VideoReadError(f"video file {self.path} does not exist; check the path")
        cap = cv2.VideoCapture(str(self.path))
        ok = cap.isOpened()
        first = cap.read() if ok else (False, None)
        if not first[0]:
            cap.release()
            raise VideoReadError(f"cannot decode {self.path}: not a video OpenCV can read, or the file is corrupt; "
                                 "try re-encoding it (e.g. to H.264 .mp4)")
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        self._cap = cap
        self._started_at = self.clock()

    def read(self, timeout: float) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, pixels = self._cap.read()
        if not ok:
            if not self.loop or self._index == 0:
                raise EndOfStream
            import cv2

            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._offset += self._index / self.fps
            self._index = 0
            ok, pixels = self._cap.read()
            if not ok:
                raise EndOfStream
        timestamp = self._offset + self._index / self.fps
        self._index += 1
        if self.realtime:
            wait = self._started_at + timestamp - self.clock()
            if wait > 0:
                time.sleep(min(wait, timeout))
        return Frame(pixels, timestamp, self._index - 1)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None


class ImageFolderSource:
    """Every image of a folder in name order, as frames ``1 / fps`` seconds apart."""

    is_live = False

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.fps = fps
        self.name = str(self.path)
        self._files: list[Path] = []
        self._index = 0

    def open(self) -> None:
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} does not exist; check the path")
        self._files = sorted(p for p in self.path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not self._files:
            raise SourceError(f"{self.path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self._index = 0

    def read(self, timeout: float) -> Frame | None:
        import cv2

        if self._index >= len(self._files):
            raise EndOfStream
        path = self._files[self._index]
        pixels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if pixels is None:
            raise VideoReadError(f"cannot decode image {path}; remove it or convert it to PNG/JPEG")
        if pixels.dtype != np.uint8:
            pixels = (pixels / max(int(pixels.max()), 1) * 255).astype(np.uint8)
        frame = Frame(pixels, self._index / self.fps, self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._files = []


class MemorySource:
    """Frames the host submits (``sensor.submit(frame, timestamp)``); the newest frame wins.

    ``live=True`` makes it stand in for a camera the host owns: consent and the indicator apply, and
    ``released`` counts how often the sensor let go of it.
    """

    def __init__(self, clock: Clock = monotonic_clock, color_order: str = "bgr", live: bool = False) -> None:
        self.clock = clock
        self.is_live = live
        self.released = 0
        self.color_order = color_order
        self.name = "memory"
        self._slot = _LatestFrameSlot()
        self._index = 0

    def open(self) -> None:
        self._slot.clear()

    def submit(self, pixels: np.ndarray, timestamp: float | None = None) -> None:
        pixels = check_pixels(pixels)
        frame = Frame(pixels, self.clock() if timestamp is None else float(timestamp), self._index, self.color_order)
        self._index += 1
        self._slot.put(frame)

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def read(self, timeout: float) -> Frame | None:
        return self._slot.take(timeout)

    def close(self) -> None:
        self._slot.clear()
        self.released += 1


def source_from_spec(spec: object, *, realtime: bool = False, loop: bool = False, width: int | None = None,
                     height: int | None = None, fps: float | None = None, clock: Clock = monotonic_clock) -> FrameSource:
    """``"camera"`` / an int / ``"/dev/videoN"`` → camera; a file → video; a folder → images; ``"memory"``."""
    if not isinstance(spec, (str, Path, int)) and isinstance(spec, FrameSource):
        return spec  # ours or the host's own: anything that satisfies the FrameSource protocol
    if spec == "memory":
        return MemorySource(clock)
    if spec == "camera":
        return CameraSource(0, width, height, fps, clock)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return CameraSource(spec, width, height, fps, clock)
    if isinstance(spec, (str, Path)):
        text = str(spec)
        if text.isdigit():
            return CameraSource(int(text), width, height, fps, clock)
        if text.startswith("/dev/video"):
            return CameraSource(text, width, height, fps, clock)
        path = Path(text)
        if path.is_dir():
            return ImageFolderSource(path, fps or 30.0)
        return VideoFileSource(path, realtime=realtime, loop=loop, clock=clock)
    raise TypeError(f"source must be 'camera', a camera index, a device path, a file or folder path, 'memory', or an "
                    f"object with the FrameSource members (name, is_live, open, read, close); got {spec!r}")
