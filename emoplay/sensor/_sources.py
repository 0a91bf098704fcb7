"""Frame sources: a live camera, a video file, a folder of images, or frames the host submits.

Every source yields :class:`~emoplay._frames.Frame` objects with monotonic
timestamps in seconds. Live sources (camera, memory) keep only the newest
frame: when the pipeline is slower than the camera, stale frames are dropped,
never queued. ``read(timeout)`` returns ``None`` when no new frame arrived in
time, raises :class:`EndOfStream` when a finite source is exhausted, and
raises a :class:`~emoplay.SourceError` when it fails: a camera whose driver
raises or stops delivering, a video that cannot be decoded before its end
(truncated or corrupt in the middle), an image that cannot be decoded.

Time bases (``timebase``): cameras and submitted frames stamp frames with the
sensor clock (``"clock"``); files and folders with stream time from 0.0
(``"stream"``: frame index / fps).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from .._checks import check_timestamp
from .._clock import Clock, monotonic_clock
from .._errors import CameraUnavailableError, SourceError, VideoReadError
from ._exit import finish_threads_at_exit
from ._failures import without_frame_locals
from .._media_files import open_video_capture, printable_name, read_image_file
from .._quiet_opencv import quiet_opencv
from .._frames import Frame, check_pixels

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


class EndOfStream(Exception):
    """A finite source has no more frames (internal signal, not an error)."""


@runtime_checkable
class FrameSource(Protocol):  # optional member: timebase = "clock" (the default) or "stream"
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
    """An OpenCV camera, by index (0) or device path ("/dev/video0"), read on its own grab thread.

    The grab thread owns the device: it opens nothing, but it is the one that calls ``release()``, when
    it ends. ``close()`` therefore returns at once even while the driver's ``read()`` blocks (an unplugged
    V4L2 camera can block for seconds): the device is released as soon as that read returns, and
    :meth:`wait_released` waits for it. A ``read()`` that raises, or a camera that stops delivering,
    ends the grab thread with the device released and the next :meth:`read` raising
    :class:`CameraUnavailableError`.

    ``opener`` (for tests and custom backends) replaces ``cv2.VideoCapture``: it is called with the device
    and returns an object with the same ``isOpened``, ``read``, ``set`` and ``release`` methods.
    """

    is_live = True
    timebase = "clock"
    # How long the grab thread may take to notice a stop request: one frame period at 30 fps at most.
    _STOP_POLL_S = 0.03
    # How long close() waits for the grab thread before leaving the release to it (a blocked read).
    _CLOSE_WAIT_S = 0.01
    # How long open() waits for a previous grab thread to release the device before giving up.
    _REOPEN_WAIT_S = 10.0

    def __init__(self, device: int | str = 0, width: int | None = None, height: int | None = None,
                 fps: float | None = None, clock: Clock = monotonic_clock, opener=None) -> None:
        self.device, self.width, self.height, self.fps, self.clock = device, width, height, fps, clock
        self.name = f"camera {device}"
        self._opener = opener
        self._cap = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._slot = _LatestFrameSlot()
        self._failure: BaseException | None = None

    def open(self) -> None:
        if self._cap is not None:
            return
        if not self.wait_released(self._REOPEN_WAIT_S):
            raise CameraUnavailableError(f"{self.name} is still held by a read that has not returned for "
                                         f"{self._REOPEN_WAIT_S:g} s (driver hung?); unplug and replug it")
        if self._opener is None:
            import cv2

            opener = cv2.VideoCapture
        else:
            opener = self._opener
        with quiet_opencv():  # our error below says what failed; OpenCV's WARN blocks would only bury it
            cap = opener(self.device)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailableError(
                f"cannot open {self.name}: no such camera, or it is busy or not permitted. Check that a camera is "
                "connected and not used by another program, run `emoplay doctor` to list cameras, or use a video "
                "file (--source FILE)")
        if self._opener is None:
            import cv2

            for prop, value in ((cv2.CAP_PROP_FRAME_WIDTH, self.width), (cv2.CAP_PROP_FRAME_HEIGHT, self.height),
                                (cv2.CAP_PROP_FPS, self.fps)):
                if value:
                    cap.set(prop, value)
        self._cap = cap
        self._stop = threading.Event()  # a new one per grab thread: an old, blocked thread keeps its own
        self._slot.clear()
        self._failure = None
        self._thread = threading.Thread(target=self._grab_loop, args=(cap, self._stop), name="emoplay-camera",
                                        daemon=True)
        self._thread.start()
        finish_threads_at_exit(self)  # a cv2 read still running when Python finalises would abort the process

    def _grab_loop(self, cap, stop: threading.Event) -> None:
        index = 0
        misses = 0
        try:
            while not stop.is_set():
                ok, pixels = cap.read()
                if stop.is_set():
                    break  # a frame that arrived after close() is not kept
                if not ok or pixels is None:
                    misses += 1
                    if misses > 30:
                        self._failure = CameraUnavailableError(f"{self.name} stopped delivering frames (unplugged?)")
                        return
                    stop.wait(self._STOP_POLL_S)
                    continue
                misses = 0
                self._slot.put(Frame(pixels, self.clock(), index))
                index += 1
        except Exception as e:  # noqa: BLE001 - the driver failed: the sensor must hear of it, not a dead thread
            pixels = None  # the last frame read is not kept by the failure
            self._failure = CameraUnavailableError(f"{self.name} failed while reading a frame "
                                                   f"({type(e).__name__}: {e}); check the camera and its cable")
            self._failure.__cause__ = without_frame_locals(e)
        finally:
            cap.release()  # the grab thread always releases the device it read from
            if stop.is_set():
                self._slot.clear()

    def read(self, timeout: float) -> Frame | None:
        if self._failure is not None:
            raise self._failure
        frame = self._slot.take(timeout)
        if frame is None and self._failure is not None:
            raise self._failure
        return frame

    def close(self) -> None:
        """Stop capturing; returns within ~10 ms. The grab thread releases the device (see the class doc)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._CLOSE_WAIT_S)
        self._cap = None
        self._slot.clear()

    @property
    def device_released(self) -> bool:
        """True when no grab thread holds the device."""
        return self._thread is None or not self._thread.is_alive()

    def wait_released(self, timeout: float | None = None) -> bool:
        """Wait until the device is released (a blocked read returned); False if ``timeout`` passed first."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                return False
        return True

    def _exit_stop(self) -> None:  # emoplay.sensor._exit: the grab thread ends after its current read
        self._stop.set()

    def _exit_join(self, timeout: float) -> bool:
        return self.wait_released(timeout)


class VideoFileSource:
    """A video file, frame by frame. Timestamps come from the frame index and the file's frame rate.

    The end of the file is told apart from damage by the frame count in the file's index: when decoding
    stops more than ``max(3, 0.1 %)`` frames before it (a file cut short, or corrupt in the middle),
    ``read()`` raises :class:`VideoReadError` instead of :class:`EndOfStream`, with ``loop`` too (a damaged
    file is never replayed). ``realtime=True`` delivers each frame no earlier than its own time after the
    first one (the file's rate); after a gap (a pause, a slow host) the schedule restarts at the next frame
    instead of bursting to catch up.
    """

    is_live = False
    timebase = "stream"
    # Frames a valid file may decode short of its index's frame count: a few (an edit list can hide the first
    # frames; the shared no_face_animation.mp4 decodes 3 short), or 0.1 % where a container estimates the count
    # from the duration. More is a file cut short, even when it is only the last seconds of a long video.
    _COUNT_SLACK = 3
    _COUNT_SLACK_FRACTION = 0.001
    # How late a realtime frame may be before the schedule restarts at it instead of catching up.
    _RESYNC_AFTER_S = 0.25

    def __init__(self, path: str | Path, realtime: bool = False, loop: bool = False,
                 clock: Clock = monotonic_clock, sleep=time.sleep) -> None:
        self.path = Path(path)
        self.realtime, self.loop, self.clock, self._sleep = realtime, loop, clock, sleep
        self.name = printable_name(self.path)
        self._cap = None
        self._index = 0
        self._offset = 0.0
        self._anchor = 0.0  # realtime: clock time at which stream time 0 is due
        self._pending: Frame | None = None  # realtime: the next frame, decoded but not due yet
        self.fps = 0.0
        self.frame_count = 0  # from the file's index; 0 when unknown

    def open(self) -> None:
        import cv2

        if self._cap is not None:
            return
        if not self.path.is_file():
            raise VideoReadError(f"video file {self.path} does not exist; check the path")
        with quiet_opencv():  # no "moov atom not found" from FFmpeg before our own error
            cap = open_video_capture(self.path, VideoReadError)
            ok = cap.isOpened()
            first = cap.read() if ok else (False, None)
        if not first[0]:
            cap.release()
            _check_readable(self.path, "video file")
            raise VideoReadError(f"cannot decode {self.path}: not a video OpenCV can read, or the file is corrupt; "
                                 "try re-encoding it (e.g. to H.264 .mp4)")
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and 1 <= fps <= 240 else 30.0
        count = cap.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if count and count > 0 else 0
        self._cap = cap
        self._index, self._offset, self._pending = 0, 0.0, None
        self._anchor = self.clock()

    def _decode(self) -> Frame:
        ok, pixels = self._cap.read()
        if not ok:
            self._check_complete()
            if not self.loop:
                raise EndOfStream
            import cv2

            self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            self._offset += self._index / self.fps
            self._index = 0
            ok, pixels = self._cap.read()
            if not ok:
                raise VideoReadError(f"{self.path} could not be read again from its start when looping")
        timestamp = self._offset + self._index / self.fps
        self._index += 1
        return Frame(pixels, timestamp, self._index - 1)

    def _check_complete(self) -> None:
        missing = self.frame_count - self._index
        if self.frame_count and missing > max(self._COUNT_SLACK, int(self.frame_count * self._COUNT_SLACK_FRACTION)):
            raise VideoReadError(
                f"{self.path} stopped decoding at frame {self._index} of {self.frame_count}: the file is cut short "
                "or corrupt in the middle; re-encode or re-copy it")

    def read(self, timeout: float) -> Frame | None:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        if not self.realtime:
            return self._decode()
        if self._pending is None:
            self._pending = self._decode()
        now = self.clock()
        due = self._anchor + self._pending.timestamp
        if now - due > self._RESYNC_AFTER_S:  # resumed after a pause, or the host fell behind: no burst
            self._anchor, due = now - self._pending.timestamp, now
        wait = due - now
        if wait > timeout:
            self._sleep(timeout)
            return None  # not due yet: the caller re-checks its stop flag and asks again
        if wait > 0:
            self._sleep(wait)
        frame, self._pending = self._pending, None
        return frame

    def close(self) -> None:
        self._pending = None
        if self._cap is not None:
            self._cap.release()
            self._cap = None


def _check_readable(path: Path, what: str) -> None:
    """OpenCV says only that it could not decode a file; a VideoReadError naming the reason if it cannot even be
    read (its permissions), so the advice is not to re-encode a file that is fine."""
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise VideoReadError(f"cannot read {what} {path}: {e.strerror or e}; check its permissions") from e


class ImageFolderSource:
    """Every image of a folder in name order, as frames ``1 / fps`` seconds apart."""

    is_live = False
    timebase = "stream"

    def __init__(self, path: str | Path, fps: float = 30.0) -> None:
        self.path = Path(path)
        self.fps = fps
        self.name = printable_name(self.path)
        self._files: list[Path] = []
        self._index = 0

    def open(self) -> None:
        if self._files:
            return  # already open: a paused folder resumes at the image it had reached
        if not self.path.is_dir():
            raise SourceError(f"image folder {self.path} does not exist; check the path")
        try:
            self._files = sorted(p for p in self.path.iterdir()
                                 if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        except OSError as e:
            raise SourceError(f"cannot list image folder {self.path}: {e.strerror or e}; check its permissions") \
                from e
        if not self._files:
            raise SourceError(f"{self.path} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        self._index = 0

    def read(self, timeout: float) -> Frame | None:
        import cv2

        if self._index >= len(self._files):
            raise EndOfStream
        path = self._files[self._index]
        pixels = read_image_file(path, cv2.IMREAD_UNCHANGED, VideoReadError)  # any file name; size checked first
        if pixels is None:
            raise VideoReadError(f"cannot decode image {printable_name(path)}; remove it or convert it to PNG/JPEG")
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

    timebase = "clock"

    def __init__(self, clock: Clock = monotonic_clock, color_order: str = "bgr", live: bool = False) -> None:
        self.clock = clock
        self.is_live = live
        self.released = 0
        self.color_order = color_order
        self.name = "memory"
        self._slot = _LatestFrameSlot()
        self._index = 0
        self._open = False
        self._last_time: float | None = None  # of the last frame submitted in this stream
        self.refused = 0  # frames submitted while closed: not kept

    def open(self) -> None:
        self._slot.clear()
        self._last_time = None  # a new stream: its timestamps start afresh
        self._open = True

    def _checked_time(self, timestamp: object) -> float:
        """The host's timestamp, refused here (at the host's call) rather than by the worker, which would fail."""
        return check_timestamp("submit() timestamp", timestamp, self._last_time, "stop() and start() begin a new one")

    def submit(self, pixels: np.ndarray, timestamp: float | None = None) -> bool:
        """Offer a frame; False (the frame is not kept) while the source is closed (sensor stopped or paused)."""
        pixels = check_pixels(pixels)
        if timestamp is not None:
            timestamp = self._checked_time(timestamp)
        if not self._open:
            self.refused += 1
            return False
        frame = Frame(pixels, self.clock() if timestamp is None else timestamp, self._index, self.color_order)
        self._last_time = frame.timestamp
        self._index += 1
        self._slot.put(frame)
        if not self._open:  # closed while we were putting: do not leave the frame behind
            self._slot.clear()
            return False
        return True

    @property
    def dropped(self) -> int:
        return self._slot.dropped

    def read(self, timeout: float) -> Frame | None:
        return self._slot.take(timeout)

    def close(self) -> None:
        self._open = False
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
