"""How the player looks: from an emoplay Sensor (camera or video) or simulated with the keyboard.

``Feelings`` is the game's one place that talks to emoplay. It uses only the public API:
consent before a camera opens, the ``CameraIndicator`` drawn every frame (its heartbeat keeps
capture allowed), camera off/on with ``stop()``/``start()`` (the device is released when off),
``pause()``/``resume()`` for the pause menu, and an opt-in encrypted session log.

Slow calls (``Sensor.start()`` loads the models and opens the camera; a passphrase log key runs
scrypt) run on a short-lived helper thread so the 60 fps game loop never stalls. Pausing or turning
the camera off while it starts does not wait for the start either: ``pause()``/``stop()`` are bounded,
may be called from any thread and cancel a start in progress, so a helper calls them at once.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import emoplay
import emoplay.sessionlog

# Number keys 1-7, in the order players think of them (the set is emoplay.EMOTIONS).
KEY_EMOTIONS = ("happy", "sad", "angry", "surprise", "fear", "disgust", "neutral")

SIMULATED, CAMERA, VIDEO = "simulated", "camera", "video"

# The story branches on the player's emotion: the dialogue preset changes it only for sustained expressions.
GAME_STABILITY = "dialogue"

# What the player reads when the "relax your face" step fails, by CalibrationFailed.reason (emoplay's own message,
# with its measurements, goes to this module's logger: `python -m examples.game_demo --verbose` prints it).
CALIBRATION_WORDS = {
    "no_face": "Maren could not see your face. Face the screen, in good light, and press R to try again.",
    "face_lost": "Maren lost sight of your face. Stay in view, and press R to try again.",
    "several_faces": "Maren sees more than one face. Only you in front of the camera, please, then press R.",
    "too_short": "That was too short for Maren to learn your face. Press R to try again.",
    "unstable": "Your face moved a lot. Relax, keep still for a few seconds, and press R to try again.",
}
logger = logging.getLogger(__name__)


def user_data_folder() -> Path:
    """Where the game keeps its session logs unless told otherwise: the platform's folder for an
    application's user data (Linux: $XDG_DATA_HOME or ~/.local/share; macOS: ~/Library/Application Support;
    Windows: %LOCALAPPDATA%), then emoplay/game_demo. Created when the first log starts."""
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        xdg = os.environ.get("XDG_DATA_HOME", "")
        base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"  # the spec ignores a relative one
    return base / "emoplay" / "game_demo"

# What a helper thread does: start or resume the sensor, start the log, or pause/stop a sensor that is starting.
STARTING, LOG, PAUSING, STOPPING = "starting", "log", "pausing", "stopping"


@dataclass(frozen=True)
class Reading:
    """What the keeper sees right now. ``emotion`` is None when no face is in view."""

    emotion: str | None
    confidence: float | None
    origin: str  # SIMULATED, CAMERA or VIDEO


class Helper:
    """One slow call on a short-lived thread; the game thread reports how it ended once it has."""

    def __init__(self, job: Callable[[], object], kind: str, done: str = "") -> None:
        self.kind = kind  # STARTING, LOG, PAUSING or STOPPING
        self.done = done  # the message for the player when it succeeds
        self.error: BaseException | None = None
        self.cancelled = False  # overtaken (the camera was turned off): not reported, and not run if not begun
        self._thread = threading.Thread(target=self._run, args=(job,), name="game-demo-helper", daemon=True)
        self._thread.start()

    def _run(self, job: Callable[[], object]) -> None:
        if self.cancelled:
            return
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - reported on the game thread by pump()
            self.error = exc

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def join(self) -> None:
        self._thread.join()


class Feelings:
    def __init__(self, source: str | None, *, log_dir: str | Path | None = None, log_key_file: str | Path | None = None,
                 realtime: bool = True, clock: Callable[[], float] = time.monotonic,
                 detector_range: str = "short", detector_tiles: str | tuple[int, int] = "off") -> None:
        self.source = source
        self.detector = emoplay.DetectorOptions(range=detector_range, tiles=detector_tiles)  # bad values: now
        self.log_dir = Path(log_dir) if log_dir is not None else None  # None: user_data_folder()
        self.log_key_file = Path(log_key_file) if log_key_file else None
        self.clock = clock
        self.sensor: emoplay.Sensor | None = None
        self.indicator = None
        self.bridge = None
        self.status = ""  # a lasting condition for the player ("Starting the camera..."); "" when all is well
        self.notices: list[str] = []  # one-off messages for the game to show briefly
        self.problem = False  # the sensor failed: the game offers the keyboard
        self.log_path: Path | None = None
        self._simulated = "neutral"
        self._helpers: list[Helper] = []  # in the order they began, so they are reported in that order
        self._held = False
        self._start_on_unhold = False
        self.pressed_at = float("-inf")  # clock time of the last number key
        self._last: tuple[str | None, str] | None = None
        self._since = clock()
        self.calibration_progress = 0.0  # of the calibration in progress, 0..1
        self.calibration_result: str | None = None  # "finished" or the CalibrationFailed reason; None while running
        self.calibration_message = ""
        self._kept_profile: bytes | None = None  # the calibration before the one in progress (restored on skip)
        if source is not None:
            self._make_sensor(source, realtime)

    # -- what the player shows --------------------------------------------------------------------------------
    @property
    def origin(self) -> str:
        if self.source is None:
            return SIMULATED
        text = str(self.source)
        return CAMERA if text == "camera" or text.isdigit() or text.startswith("/dev/video") else VIDEO

    @property
    def sensing(self) -> bool:
        """The sensor is what answers (it is capturing or about to); otherwise the keys do."""
        if self.sensor is None or self.problem or self._running(PAUSING, STOPPING):
            return False
        return self.sensor.camera_state in (emoplay.CameraState.CAPTURING, emoplay.CameraState.STARTING) or \
            bool(self._running(STARTING))

    def reading(self) -> Reading:
        if self.sensing:
            primary = self.sensor.primary_emotion()
            if primary is None:
                return Reading(None, None, self.origin)
            return Reading(primary[0], primary[1], self.origin)
        return Reading(self._simulated, None, SIMULATED)

    def stable_for(self) -> float:
        """Seconds the reading has shown the same emotion (from the same origin)."""
        return self.clock() - self._since

    def press(self, emotion: str) -> bool:
        """A number key: set the simulated emotion. False (ignored) while the sensor answers."""
        if emotion not in emoplay.EMOTIONS:
            raise ValueError(f"unknown emotion {emotion!r}")
        if self.sensing:
            return False
        self._simulated = emotion
        self.pressed_at = self._since = self.clock()
        self._last = (emotion, SIMULATED)
        return True

    # -- the sensor's life ------------------------------------------------------------------------------------
    @property
    def needs_consent(self) -> bool:
        return self.sensor is not None and self.origin == CAMERA and not self.sensor.has_consent

    @property
    def busy(self) -> bool:
        return any(helper.alive for helper in self._helpers)

    def grant_consent(self) -> None:
        if self.sensor is not None:
            self.sensor.grant_consent()

    def start(self) -> None:
        """Start capturing (after consent, for a camera), on a helper thread."""
        if self.sensor is None or self.busy:
            return
        self.problem = False
        self.status = "Starting the camera..." if self.origin == CAMERA else "Starting the video..."
        self._run_helper(self.sensor.start, STARTING)

    def camera_on(self) -> str:
        if self.sensor is None:
            return "No sensor: the game was started with --keyboard."
        if self.busy:
            return "One moment, the camera is starting."
        self.start()
        return "Camera on."

    def camera_off(self) -> str:
        if self.sensor is None:
            self.problem, self.status = False, ""
            return "Keyboard: keys 1-7 set your expression (simulated)."
        self._held = self._start_on_unhold = False
        self._take_over(self.sensor.stop, STOPPING)  # the device is released within ~100 ms, even mid-start
        self.problem = False
        self.status = ""
        return "Camera off and released. Keys 1-7 set your expression (simulated)."

    def toggle_camera(self) -> str:
        if self.sensor is None:
            return "No sensor: the game was started with --keyboard."
        if self.sensing:
            return self.camera_off()
        return self.camera_on()

    @property
    def held(self) -> bool:
        """Capture is paused by hold() (the pause menu) and resumes with unhold()."""
        return self._held and self.sensor is not None and \
            (self.sensor.camera_state is emoplay.CameraState.PAUSED or bool(self._running(PAUSING)))

    def hold(self) -> None:
        """The game paused: pause capture (a camera is released) until unhold(). Never waits for a start."""
        if self.sensor is None:
            return
        if self._running(STARTING):
            self._held = True
            self._take_over(self.sensor.pause, PAUSING)
        elif self.sensor.camera_state is emoplay.CameraState.CAPTURING:
            self.sensor.pause()
            self._held = True

    def unhold(self) -> None:
        self._join_helpers()
        if self.held:
            self._run_helper(self.sensor.resume, STARTING)
        elif self._start_on_unhold:
            self.start()
        self._held = self._start_on_unhold = False

    def start_on_unhold(self) -> None:
        """Turned on from the pause menu: start when the game resumes."""
        self._start_on_unhold = True

    @property
    def camera_wanted(self) -> bool:
        """On, starting, paused by the pause menu, or set to start on resume."""
        return self.sensing or self.held or self._start_on_unhold

    # -- once per frame ---------------------------------------------------------------------------------------
    def pump(self) -> None:
        """Move the sensor's events into pygame's queue and notice finished helper jobs."""
        self._collect_helpers()
        if self.bridge is not None:
            try:
                self.bridge.pump()  # also writes the log, if one is open
            except emoplay.WorkerError as exc:  # the camera or video failed; its SensorFailed event was posted too
                self._fail(exc)
            except (emoplay.EmoplayError, OSError) as exc:  # the log could not be written (disk full...)
                self._abandon_log(exc)
        reading = self.reading()
        key = (reading.emotion, reading.origin)
        if key != self._last:
            self._last = key
            self._since = self.clock()

    # -- calibration: the player's resting face ----------------------------------------------------------------
    @property
    def capturing(self) -> bool:
        return self.sensing and self.sensor.camera_state is emoplay.CameraState.CAPTURING and not self.busy

    @property
    def calibrated(self) -> bool:
        return self.sensor is not None and self.sensor.calibrated

    def calibrate(self, seconds: float) -> None:
        """Learn the player's relaxed face over the next ``seconds`` (the sensor must be capturing)."""
        self._kept_profile = self.sensor.export_calibration()
        self.calibration_progress, self.calibration_result, self.calibration_message = 0.0, None, ""
        self.sensor.calibrate(seconds)

    def cancel_calibration(self) -> None:
        """The player skipped: stop the calibration in progress and keep the one from before (if any)."""
        if self.sensor is None:
            return
        self.sensor.reset_calibration()
        if self._kept_profile is not None:
            self.sensor.import_calibration(self._kept_profile)

    def on_sensor_event(self, data) -> None:
        """An emoplay event from the pygame queue (``event.emoplay``)."""
        if isinstance(data, emoplay.CalibrationProgress):
            self.calibration_progress = data.fraction
        elif isinstance(data, emoplay.CalibrationFinished):
            self.calibration_result = "finished"
            self.notices.append("Calibrated to your resting face.")
        elif isinstance(data, emoplay.CalibrationFailed):
            self.calibration_result = data.reason
            self.calibration_message = CALIBRATION_WORDS.get(data.reason, CALIBRATION_WORDS["too_short"])
            logger.info("calibration failed (%s): %s", data.reason, data.message)  # the numbers, for developers
        elif isinstance(data, emoplay.SensorFailed):
            self._fail(data.error or RuntimeError(data.message))
        elif isinstance(data, emoplay.CameraStateChanged):
            if data.current is emoplay.CameraState.OFF and data.reason == "end of stream":
                self.notices.append("The video ended. Keys 1-7 set your expression (simulated).")

    def draw_indicator(self, surface, topleft: tuple[int, int]):
        """Draw the camera indicator (every frame: it is the sensor's heartbeat). Returns its Rect."""
        if self.indicator is None:
            return None
        return self.indicator.draw(surface, topleft)

    # -- session log ------------------------------------------------------------------------------------------
    @property
    def log_open(self) -> bool:
        return self.sensor is not None and self.sensor.sink_attached

    def start_log(self, passphrase: str | None = None) -> str:
        """Start an encrypted log of the sensor's events (never images) with a passphrase or --log-key-file."""
        if self.sensor is None:
            return "Nothing to log in keyboard mode: the log records the sensor's events."
        self._join_helpers()  # the camera may still be starting: a short wait, once, on a key press
        if self.log_open:
            return f"Already logging to {self.log_path.name}."
        try:
            key = emoplay.sessionlog.LogKey.from_file(self.log_key_file) if passphrase is None else \
                emoplay.sessionlog.LogKey.from_passphrase(passphrase)
        except (emoplay.EmoplayError, ValueError) as exc:
            return f"No log: {exc}"
        folder = self.log_dir
        if folder is None:
            folder = user_data_folder()
            try:
                for level in reversed([folder, *folder.parents]):  # each missing level owner-only, like the logs
                    if not level.exists():
                        level.mkdir(mode=0o700)
            except OSError as exc:
                return f"No log: cannot create {folder} ({exc.strerror}). Start the game with --log-dir DIR."
        self.log_path = folder / time.strftime("game_demo-%Y%m%d-%H%M%S.emolog")
        n = 1
        while self.log_path.exists():
            n += 1
            self.log_path = folder / time.strftime(f"game_demo-%Y%m%d-%H%M%S-{n}.emolog")
        # A passphrase key runs scrypt (a fraction of a second): keep it off the game thread.
        self._run_helper(lambda: self.sensor.start_log(self.log_path, key), LOG,
                         done=f"Logging to {self.log_path}.")
        return "Starting the encrypted log..."

    def stop_log(self) -> str:
        self._join_helpers()
        if not self.log_open:
            return "The log is off."
        self.sensor.stop_log()
        return f"Log saved (encrypted): {self.log_path}."

    def _abandon_log(self, error: BaseException) -> None:
        try:
            self.sensor.stop_log()
        except (emoplay.EmoplayError, OSError):
            pass  # the file is already broken; the game goes on without it
        self.notices.append(f"The log stopped: {error}")

    def close(self) -> None:
        self._join_helpers()
        if self.sensor is not None:
            self.sensor.close()  # stops capture, releases the camera, closes the log

    # -- helpers ----------------------------------------------------------------------------------------------
    def _make_sensor(self, source: str, realtime: bool) -> None:
        from emoplay.pygame import CameraIndicator, PygameEventBridge

        spec: object = int(source) if source.isdigit() else source
        is_file = self.origin == VIDEO
        try:
            pipeline = emoplay.PipelineOptions(detector=self.detector)
            options = emoplay.SensorOptions(source=spec, realtime=is_file and realtime, loop=is_file,
                                            stability=GAME_STABILITY, pipeline=pipeline)
            self.sensor = emoplay.Sensor(options)
        except (emoplay.EmoplayError, ValueError, TypeError) as exc:
            self.sensor = None
            self.problem = True
            self.status = f"Cannot use {source}: {exc} Press K to play with the keyboard."
            return
        self.indicator = CameraIndicator(self.sensor, font_size=24)
        self.bridge = PygameEventBridge(self.sensor)

    def _run_helper(self, job: Callable[[], object], kind: str, done: str = "") -> None:
        self._helpers.append(Helper(job, kind, done))

    def _running(self, *kinds: str) -> list[Helper]:
        """The helpers of these kinds still at work (and not overtaken)."""
        return [h for h in self._helpers if h.kind in kinds and h.alive and not h.cancelled]

    def _take_over(self, call: Callable[[], None], kind: str) -> None:
        """``sensor.pause()`` or ``stop()`` now, without waiting on the game thread for a start in flight.

        With no start (or pause) in flight, ``call()`` runs here (bounded). Otherwise a helper runs it at once (it
        may be called from any thread and makes the start return at once, cancelled; a source still opening is
        released by emoplay's worker as soon as the open returns), waits for the start, and runs it again in case
        the start had not yet reached the sensor. A stop overtakes the start: how it would have ended is not reported.
        """
        in_flight = self._running(STARTING, PAUSING)
        if not in_flight:
            call()
            return
        if kind == STOPPING:
            for helper in in_flight:
                helper.cancelled = True

        def job() -> None:
            call()
            for helper in in_flight:
                helper.join()
            call()

        self._run_helper(job, kind)

    def _join_helpers(self) -> None:
        for helper in list(self._helpers):
            helper.join()
        self._collect_helpers()

    def _collect_helpers(self) -> None:
        for helper in [h for h in self._helpers if not h.alive]:
            self._helpers.remove(helper)
            if not helper.cancelled:
                self._report(helper)

    def _report(self, helper: Helper) -> None:
        if helper.error is not None and helper.kind == LOG:
            self.log_path = None
            self.notices.append(f"The log could not start: {helper.error}")
        elif helper.error is not None:
            self._fail(helper.error)
        else:
            if helper.kind == STARTING:
                self.status = ""
            if helper.done:
                self.notices.append(helper.done)

    def _fail(self, error: BaseException) -> None:
        what = "camera" if self.origin == CAMERA else "video"
        self.problem = True
        first = str(error).split(". ")[0].rstrip(".")
        self.status = f"The {what} is unavailable: {first}. Press K to play with the keyboard, C to retry."
