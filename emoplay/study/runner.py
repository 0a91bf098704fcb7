"""``emoplay study run``: the participant's side of a study, in one Pygame window.

Screens, in order: consent (what is recorded: emotion probabilities and events,
never images) → camera start → calibration ("relax your face", if the study asks
for it) → each stimulus (a video, or a still image for its seconds) full-window with
its sound, after a rest screen (between stimuli) and a fixation cross (if the study
asks for one) → thank you. The frames of the rest and fixation screens before a
stimulus are recorded as its pre-stimulus segment (``_pre-<id>``), a baseline the
report can use. The camera indicator is drawn on every screen while the camera runs
(and capture pauses if it is not). **Esc** pauses (the camera is released, the
stimulus and its sound stop) and resumes; **Q** (or closing the window) ends the
study at once and keeps what was recorded. Declining consent records nothing and
creates no file.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..detection._detector import RANGES as DETECTOR_RANGES, DetectorOptions
from .._errors import MissingExtraError, StudyError
from ..pipeline._debounce import STABILITY_PRESETS
from .calibration_step import UNAVAILABLE, calibration_outcome, start_calibration
from .media import StimulusPlayer, VideoAsCamera, player_for, probe_video
from .recording import BASELINE, FrameTap, Playhead, StudyRecorder, pre_stimulus_id
from .spec import POOLED_GROUP, StudySpec

BACKGROUND = (18, 18, 22)
TEXT = (235, 235, 235)
DIM = (160, 160, 170)
ACCENT = (90, 170, 255)
_SETTLE_S = 0.3  # after a stimulus ends, wait this long at most for frames captured before its end


@dataclass
class RunState:
    """What the runner is doing now (given to ``RunOptions.on_tick`` each frame; tests use it)."""

    screen: str = "consent"  # consent, starting, calibration, rest, fixation, stimulus, paused, thanks
    stimulus: str | None = None
    position: int = 0
    media_time: float = 0.0


@dataclass(frozen=True)
class RunOptions:
    participant: str
    group: str
    log_path: Path
    source: str = "camera"  # "camera", a camera index, or a video file played as the camera
    seed: int | None = None  # shuffled orders: None draws one (it is recorded either way)
    window_size: tuple[int, int] | None = None  # None: full screen
    autoplay: bool = False  # screens advance by themselves; only with a video file as the source
    stability: str | None = None  # the sensor's stability preset (None: the default); see emoplay.STABILITY_PRESETS
    detector_range: str = "short"  # DetectorOptions.range: "full" or "auto" for a participant far from the camera
    detector_tiles: str | tuple[int, int] = "off"  # DetectorOptions.tiles: "auto" or (cols, rows) for small faces
    thanks_seconds: float = 4.0
    on_tick: Callable[[RunState], None] | None = field(default=None, compare=False)


@dataclass(frozen=True)
class RunResult:
    consented: bool
    log_path: Path | None
    completed: tuple[str, ...] = ()  # stimulus ids shown to their end
    aborted: bool = False
    frames: int = 0  # frame records written (stimuli and baseline)
    calibration: str = "off"


class _Abort(Exception):
    """The participant pressed Q or closed the window."""


def check_participant(spec: StudySpec, participant: str, group: str) -> None:
    if not participant or not participant.isprintable() or len(participant) > 200:
        raise StudyError("--participant must be a non-empty, printable id of at most 200 characters "
                         "(use a pseudonymous code such as P017, not a name)")
    if spec.groups and group not in spec.groups:
        raise StudyError(f"--group {group!r} is not one of the study's groups: {', '.join(spec.groups)}")
    if group == POOLED_GROUP:
        raise StudyError(f"--group {POOLED_GROUP!r} is reserved: the report uses it for all participants pooled; "
                         "choose another group name")
    if not group or len(group) > 200:
        raise StudyError("--group must be a non-empty text of at most 200 characters")


def _is_video_file(source: str) -> bool:
    return source != "camera" and not source.isdigit() and not source.startswith("/dev/video")


class _Run:
    def __init__(self, spec: StudySpec, options: RunOptions, key) -> None:
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")  # pygame's greeting is not the study's to print
        try:
            import pygame
        except ImportError as exc:
            raise MissingExtraError("emoplay study run shows its screens with pygame, an optional extra: "
                                    "pip install 'emoplay[pygame]'") from exc

        self.pygame = pygame
        self.spec, self.options, self.key = spec, options, key
        self.state = RunState()
        self.clock = time.monotonic
        self.sensor = None
        self.feeder: VideoAsCamera | None = None
        self.recorder: StudyRecorder | None = None
        self.indicator = None
        self.tap = FrameTap()
        self.recording: tuple[str, Playhead] | None = None  # frames are kept only while this stimulus plays
        self.latest_sample = float("-inf")
        self.events: list | None = None  # sensor events, collected only while calibrating
        self.completed: list[str] = []
        self.player: StimulusPlayer | None = None
        pygame.display.init()
        pygame.font.init()
        if options.window_size:
            self.surface = pygame.display.set_mode(options.window_size)
        else:
            self.surface = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        pygame.display.set_caption(f"emoplay study: {spec.title}")
        height = self.surface.get_height()
        self.font = pygame.font.Font(None, max(18, height // 18))
        self.small = pygame.font.Font(None, max(14, height // 28))
        self.ticker = pygame.time.Clock()

    # -- drawing ---------------------------------------------------------------------------------------------
    def _wrap(self, text: str, font, width: int) -> list[str]:
        lines: list[str] = []
        for paragraph in text.split("\n"):
            words, line = paragraph.split(), ""
            for word in words:
                trial = f"{line} {word}".strip()
                if font.size(trial)[0] <= width or not line:
                    line = trial
                else:
                    lines.append(line)
                    line = word
            lines.append(line)
        return lines

    def _text_screen(self, title: str, body: str, footer: str, progress: float | None = None) -> None:
        surface, w, h = self.surface, self.surface.get_width(), self.surface.get_height()
        surface.fill(BACKGROUND)
        margin = w // 12
        y = h // 8
        surface.blit(self.font.render(title, True, ACCENT), (margin, y))
        y += self.font.get_linesize() * 2
        for line in self._wrap(body, self.small, w - 2 * margin):
            surface.blit(self.small.render(line, True, TEXT), (margin, y))
            y += self.small.get_linesize()
        if progress is not None:
            bar = self.pygame.Rect(margin, h - h // 4, w - 2 * margin, max(6, h // 60))
            self.pygame.draw.rect(surface, DIM, bar, width=1)
            self.pygame.draw.rect(surface, ACCENT, bar.inflate(0, 0).clip(
                self.pygame.Rect(bar.x, bar.y, int(bar.width * min(max(progress, 0.0), 1.0)), bar.height)))
        surface.blit(self.small.render(footer, True, DIM), (margin, h - h // 8))

    def _present(self) -> None:
        if self.indicator is not None and self.sensor is not None and self.sensor.camera_state.value != "off":
            self.indicator.draw(self.surface, (12, 12))  # also the heartbeat that lets capture run
        self.pygame.display.flip()

    # -- input and the sensor --------------------------------------------------------------------------------
    def _keys(self) -> list[int]:
        pressed = []
        for event in self.pygame.event.get():
            if event.type == self.pygame.QUIT:
                raise _Abort
            if event.type == self.pygame.KEYDOWN:
                if event.key == self.pygame.K_q:
                    raise _Abort
                pressed.append(event.key)
        return pressed

    def _tick(self, fps: int = 60) -> list[int]:
        if self.options.on_tick is not None:
            self.options.on_tick(self.state)
        keys = self._keys()
        self._pump()
        self.ticker.tick(fps)
        return keys

    def _pump(self) -> None:
        """Events and frame samples from the sensor into the log."""
        if self.sensor is None:
            return
        if self.feeder is not None:
            self.feeder.check()
        events = self.sensor.poll()
        for event in events:
            self.recorder.event(event)
        if self.events is not None:
            self.events += events
        samples = self.tap.drain()
        if samples:
            self.latest_sample = max(self.latest_sample, samples[-1].timestamp)
        if self.recording is not None:
            self.recorder.frames(samples, *self.recording)

    def _pause(self, playhead: Playhead | None = None) -> None:
        """Esc: release the camera, stop the stimulus, wait for Esc again (Q still aborts)."""
        now = self.clock()
        stimulus = self.state.stimulus
        media = playhead.now(now) if playhead is not None else None
        if playhead is not None:
            playhead.pause(now)
        if self.player is not None:
            self.player.pause_sound()
        self.sensor.pause()
        self.recorder.paused(now, stimulus, media)
        previous, self.state.screen = self.state.screen, "paused"
        while True:
            self._text_screen("Paused", "The camera is off. Take your time.",
                              "Esc: continue    Q: end the study (what was recorded is kept)")
            self._present()
            if self.pygame.K_ESCAPE in self._tick(30):
                break
        self.sensor.resume()
        now = self.clock()
        self.recorder.resumed(now, stimulus, media)
        if playhead is not None:
            playhead.resume(now)
        if self.player is not None:
            self.player.resume_sound()
        self.state.screen = previous

    # -- screens ---------------------------------------------------------------------------------------------
    def consent(self) -> bool:
        spec = self.spec
        body = (f"{spec.title}\n\n"
                "You will watch a few short videos. While they play, this program uses the camera to estimate, "
                "on this computer only, how likely each of seven expressions is on your face (anger, disgust, "
                "fear, happiness, sadness, surprise, neutral), several times a second.\n\n"
                "What is recorded: those estimates and when your face was found or lost, with the video and "
                "the moment in it, in an encrypted file. No picture or video of you is ever stored or sent "
                "anywhere; nothing leaves this computer.\n\n"
                "A red CAMERA ON sign shows whenever the camera is on. Esc pauses (the camera turns off). "
                "Q ends the study at any time; what was recorded until then is kept unless you ask the "
                "researcher to delete it.")
        if spec.researcher:
            body += f"\n\nResearcher: {spec.researcher}"
        if spec.consent:
            body += f"\n\n{spec.consent}"
        started = self.clock()
        while True:
            self._text_screen("Before we start", body, "Space or Enter: I agree, start    Q: I do not agree")
            self._present()
            try:
                keys = self._tick(30)
            except _Abort:
                return False
            if self.pygame.K_SPACE in keys or self.pygame.K_RETURN in keys:
                return True
            if self.options.autoplay and self.clock() - started > 0.5:
                return True

    def start_camera(self, order, seed) -> None:
        from .._version import __version__
        from .._model_files import EMOTION_MODEL, expected_checksums
        from ..pipeline._pipeline import PipelineOptions
        from ..sensor._sources import MemorySource
        from ..sensor._sensor import Sensor, SensorOptions
        from ..pygame import CameraIndicator

        self.state.screen = "starting"
        self._text_screen("Starting the camera…", "This takes a few seconds.", "")
        self.pygame.display.flip()
        source = self.options.source
        pipeline = PipelineOptions(detector=DetectorOptions(range=self.options.detector_range,
                                                            tiles=self.options.detector_tiles))
        if _is_video_file(source):
            self.sensor = Sensor(SensorOptions(source=MemorySource(live=True), on_frame=self.tap,
                                               stability=self.options.stability, pipeline=pipeline))
            self.feeder = VideoAsCamera(Path(source), self.sensor, self.clock)
        else:
            self.sensor = Sensor(SensorOptions(source=int(source) if source.isdigit() else source,
                                               on_frame=self.tap, stability=self.options.stability,
                                               pipeline=pipeline))
        self.indicator = CameraIndicator(self.sensor)
        self.sensor.grant_consent()  # the participant agreed on the consent screen
        self.sensor.start()  # a missing camera fails here, before any file exists
        if self.feeder is not None:
            self.feeder.start()
        self.recorder = StudyRecorder(self.options.log_path, self.key)
        model = f"{EMOTION_MODEL} sha256 {expected_checksums().get(EMOTION_MODEL, '?')[:12]}"
        self.recorder.started(
            self.clock(), study=self.spec.id, title=self.spec.title, fingerprint=self.spec.fingerprint,
            participant=self.options.participant, group=self.options.group, order=[s.id for s in order], seed=seed,
            calibration="on" if self.spec.calibration else "off", emoplay=__version__, model=model)

    def calibrate(self) -> str:
        seconds = self.spec.calibration_seconds
        self.state.screen, self.state.stimulus, self.state.position = "calibration", BASELINE, 0
        playhead = Playhead()
        self.events = []
        started = start_calibration(self.sensor, seconds)
        outcome = None if started else UNAVAILABLE
        now = self.clock()
        playhead.start(now)
        self.recording = (BASELINE, playhead)
        self.recorder.stimulus_started(now, BASELINE, "Baseline (relaxed face)", 0, seconds)
        waited = None  # clock time when the baseline's seconds were over
        while True:
            media = playhead.now(self.clock())
            self.state.media_time = media
            if waited is None and media >= seconds:
                self._end_recording(playhead, BASELINE, seconds, "finished", limit=seconds)
                waited = self.clock()
            if waited is not None and (outcome is not None or self.clock() - waited > 5):
                break
            self._text_screen("Relax your face", "Look at the screen with a relaxed, neutral face for a few "
                              "seconds. This tells the program what your face looks like at rest.",
                              "Esc: pause    Q: end the study", progress=media / seconds)
            self._present()
            try:
                keys = self._tick(30)
            except _Abort:
                if waited is None:
                    self._end_recording(playhead, BASELINE, playhead.now(self.clock()), "aborted")
                raise
            if outcome is None:
                outcome = calibration_outcome(self.events)
            if self.pygame.K_ESCAPE in keys and waited is None:
                self._pause(playhead)
        self.events = None
        outcome = outcome or ("failed", "the sensor did not report a result in time")
        self.recorder.calibration(self.clock(), *outcome)
        return outcome[0]

    def _end_recording(self, playhead: Playhead, stimulus: str, media: float, reason: str,
                       limit: float | None = None) -> None:
        """Stop the playhead (at media time ``limit`` at the latest), take the last frames, mark the end."""
        end = playhead.stop(self.clock(), limit)
        deadline = end + _SETTLE_S
        while self.latest_sample < end and self.clock() < deadline and self.sensor.running:
            time.sleep(0.01)
            self._pump()
        self._pump()
        self.recording = None
        self.recorder.stimulus_ended(end, stimulus, media, reason)

    def _fixation_screen(self) -> None:
        surface, w, h = self.surface, self.surface.get_width(), self.surface.get_height()
        surface.fill(BACKGROUND)
        arm, thickness = max(8, h // 30), max(2, h // 200)
        self.pygame.draw.line(surface, TEXT, (w // 2 - arm, h // 2), (w // 2 + arm, h // 2), thickness)
        self.pygame.draw.line(surface, TEXT, (w // 2, h // 2 - arm), (w // 2, h // 2 + arm), thickness)

    def before(self, stimulus, position: int, total: int) -> None:
        """The rest screen (from the second stimulus on) then the fixation cross, recorded as ``_pre-<id>``."""
        rest = self.spec.rest_seconds if position > 1 else 0.0
        seconds = rest + self.spec.fixation_seconds
        if seconds <= 0:
            return
        segment = pre_stimulus_id(stimulus.id)
        self.state.stimulus, self.state.position = None, position
        playhead = Playhead()
        now = self.clock()
        self.recorder.stimulus_started(now, segment, f"Before {stimulus.title}"[:200], position, seconds)
        playhead.start(now)
        self.recording = (segment, playhead)
        try:
            while (media := playhead.now(self.clock())) < seconds:
                self.state.media_time = media
                if media < rest:
                    self.state.screen = "rest"
                    self._text_screen("Rest", f"Relax for a moment. Stimulus {position} of {total} starts in "
                                      f"{math.ceil(seconds - media)} s.", "Esc: pause    Q: end the study")
                else:
                    self.state.screen = "fixation"
                    self._fixation_screen()
                self._present()
                if self.pygame.K_ESCAPE in self._tick(30):
                    self._pause(playhead)
        except _Abort:
            self._end_recording(playhead, segment, playhead.now(self.clock()), "aborted")
            raise
        self._end_recording(playhead, segment, seconds, "finished", limit=seconds)

    def play(self, stimulus, position: int) -> None:
        size = self.surface.get_size()
        self.state.screen, self.state.stimulus, self.state.position = "stimulus", stimulus.id, position
        playhead = Playhead()
        with player_for(stimulus, size) as player:
            self.player = player
            now = self.clock()
            self.recorder.stimulus_started(now, stimulus.id, stimulus.title, position, player.duration)
            playhead.start(now)
            self.recording = (stimulus.id, playhead)
            player.start_sound()
            media = 0.0
            try:
                while True:
                    media = playhead.now(self.clock())
                    self.state.media_time = media
                    frame = player.frame_at(media)
                    if frame is None:
                        break
                    self.surface.fill((0, 0, 0))
                    self.surface.blit(frame, ((size[0] - frame.get_width()) // 2, (size[1] - frame.get_height()) // 2))
                    self._present()
                    if self.pygame.K_ESCAPE in self._tick(int(player.fps * 2)):
                        self._pause(playhead)
            except _Abort:
                self._end_recording(playhead, stimulus.id, playhead.now(self.clock()), "aborted")
                raise
            finally:
                self.player = None
            self._end_recording(playhead, stimulus.id, min(media, player.duration), "finished", limit=player.duration)
        self.completed.append(stimulus.id)

    def thanks(self, aborted: bool) -> None:
        self.state.screen, self.state.stimulus = "thanks", None
        body = ("The study was ended early. What was recorded until then is kept. " if aborted else
                "That was the last video. ") + "The camera is off. Please let the researcher know you are done."
        started = self.clock()
        while self.clock() - started < self.options.thanks_seconds:
            self._text_screen("Thank you", body, "Any key: close")
            self._present()
            try:
                if self._tick(30):
                    break
            except _Abort:
                break

    def stop_camera(self) -> None:
        if self.feeder is not None:
            self.feeder.stop()
        if self.sensor is not None:
            self.sensor.stop()
            for event in self.sensor.poll():
                self.recorder.event(event)

    def close(self) -> None:
        try:
            if self.feeder is not None:
                self.feeder.stop()
            if self.sensor is not None:
                self.sensor.close()
            if self.recorder is not None:
                self.recorder.close()
        finally:
            self.pygame.quit()


def run_study(spec: StudySpec, options: RunOptions, key) -> RunResult:
    """Run one participant through the study; returns what was recorded (the log is closed). Sets
    ``PYGAME_HIDE_SUPPORT_PROMPT`` in this process's environment unless it is set (pygame's greeting is not the
    study's to print)."""
    check_participant(spec, options.participant, options.group)
    if options.autoplay and not _is_video_file(options.source):
        raise StudyError("--autoplay advances the consent screen by itself, so it works only with a video file "
                         "as --source (a demo or a test), never with a camera")
    if options.stability is not None and options.stability not in STABILITY_PRESETS:
        raise StudyError(f"--stability {options.stability!r} is not a preset; choose one of "
                         f"{', '.join(STABILITY_PRESETS)}")
    if Path(options.log_path).exists():
        raise StudyError(f"{options.log_path} already exists; session logs are never overwritten, choose a new name")
    if options.detector_range not in DETECTOR_RANGES:
        raise StudyError(f"--detector-range {options.detector_range!r} is not one of {', '.join(DETECTOR_RANGES)}")
    try:
        DetectorOptions(range=options.detector_range, tiles=options.detector_tiles)
    except (TypeError, ValueError) as e:
        raise StudyError(f"--detector-tiles: {e}") from None
    if _is_video_file(options.source):
        probe_video(Path(options.source))  # an unreadable participant video fails before the window opens
    order, seed = spec.order_for(options.seed)
    run = _Run(spec, options, key)
    aborted = False
    calibration = "off"
    try:
        if not run.consent():
            return RunResult(consented=False, log_path=None)
        try:
            run.start_camera(order, seed)
            if spec.calibration:
                calibration = run.calibrate()
            for position, stimulus in enumerate(order, start=1):
                run.before(stimulus, position, len(order))
                run.play(stimulus, position)
        except _Abort:
            aborted = True
        run.stop_camera()
        run.recorder.close()
        run.thanks(aborted)
        return RunResult(consented=True, log_path=Path(options.log_path), completed=tuple(run.completed),
                         aborted=aborted, frames=run.recorder.frames_written, calibration=calibration)
    finally:
        run.close()
