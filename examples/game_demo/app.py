"""The game: options, the 60 fps loop, the heads-up display, the command line and run_headless().

    python -m examples.game_demo                      # camera (asks first), keys 1-7 as a fallback
    python -m examples.game_demo --keyboard           # no sensor at all
    python -m examples.game_demo --source clip.mp4    # a video plays the player's face
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import pygame

from . import art
from .art import AMBER, DIM, EMOTION_COLOURS, HEIGHT, INK, WIDTH
from .audio import Music
from .scenes import (DIALOGUE, CalibrationScene, ConsentScene, EndingScene, PassphraseScene, PauseScene, SceneStack, StoryScene,
                     TitleScene)
from .sensing import KEY_EMOTIONS, SIMULATED, Feelings, Reading
from .story import DEFAULT_STORY, Story, StoryError, load_story

FPS = 60
TOAST_S = 3.5  # how long a message stays on screen
SCRIPT_INTERVAL = 12  # frames between two scripted key presses (0.2 s at 60 fps)
LATE_FRAME_MS = 1000 / FPS * 1.5  # a frame this long visibly stutters
BANNER_TOP = 96  # a message's place under the HUD's top row, unless a panel is there
STRIP_H = 40  # the key strip along the bottom

_NAMED_KEYS = {"space": pygame.K_SPACE, "enter": pygame.K_RETURN, "esc": pygame.K_ESCAPE, "up": pygame.K_UP,
               "down": pygame.K_DOWN, "backspace": pygame.K_BACKSPACE}


@dataclass
class GameOptions:
    source: str | None = "camera"  # "camera", a camera index, a video file or image folder; None: keyboard only
    story: Path = DEFAULT_STORY
    fullscreen: bool = False
    max_frames: int | None = None  # stop after this many frames (automation)
    script: list[str] = field(default_factory=list)  # key presses to play, one every SCRIPT_INTERVAL frames
    loop_script: bool = False
    log_dir: Path | None = None  # where L writes session logs; None: the platform's user data folder
    log_key_file: Path | None = None
    mute: bool = False
    realtime: bool = True  # videos play at their own speed
    consent: bool = False  # the player already agreed elsewhere (run_headless(consent=True)); skips the screen
    calibrate: bool = True  # the "relax your face" step before the story (never in keyboard mode)
    calibration_s: float = 3.0  # how long the player relaxes for it
    detector_range: str = "short"  # emoplay.DetectorOptions.range: "full" or "auto" for a couch, a party
    detector_tiles: str | tuple[int, int] = "off"  # emoplay.DetectorOptions.tiles: "auto" for faces far away


class Game:
    def __init__(self, options: GameOptions) -> None:
        self.options = options
        self.story: Story = load_story(options.story)  # StoryError before any window opens
        pygame.display.init()  # before the script check: pygame names keys only once video is initialised
        for token in options.script:
            script_events(token)  # an unknown token is a ValueError before any window opens
        pygame.font.init()
        flags = pygame.FULLSCREEN | pygame.SCALED if options.fullscreen else 0
        self.screen = pygame.display.set_mode((WIDTH, HEIGHT), flags)
        pygame.display.set_caption(self.story.title)
        self.fonts = art.Fonts()
        self.backdrop = art.Backdrop()
        self.dialogue_panel = art.panel(DIALOGUE.size)
        self.music = Music(enabled=not options.mute)
        self.t = 0.0  # game time: the story's timers run on it, so a scripted play-through is deterministic
        self.feelings = Feelings(options.source, log_dir=options.log_dir, log_key_file=options.log_key_file,
                                 realtime=options.realtime, clock=lambda: self.t,
                                 detector_range=options.detector_range, detector_tiles=options.detector_tiles)
        if options.consent:
            self.feelings.grant_consent()
        self.source_label = Path(str(options.source)).name if options.source else ""
        self.stack = SceneStack()
        self.history: list[tuple[str, str]] = []
        self.endings_found: set[str] = set()
        self.answers = 0  # how many times the keeper answered, over every play-through
        self.final_camera_state = "none"
        self.frames = 0
        self.running = True
        self.closed = False
        self._toast = ("", 0.0)
        self.banner_rect: pygame.Rect | None = None  # where the latest message was drawn
        self.footer = ""  # the key strip's words as last drawn
        self.hud_emotion = ""  # the HUD's reading as last drawn
        self._script = list(options.script)
        self._script_pos = 0
        self._hud_cache: dict[tuple, pygame.Surface] = {}
        self.frame_ms: list[float] = []
        self.work_ms: list[float] = []
        self.stack.push(TitleScene(self))

    # -- story flow -------------------------------------------------------------------------------------------
    def begin(self) -> None:
        """From the title: ask for the camera if needed, then start the story."""
        if self.feelings.needs_consent:
            self.stack.push(ConsentScene(self, then=self._calibrate_then_story))
        else:
            if self.feelings.sensor is not None and not self.feelings.sensing and not self.feelings.problem:
                self.feelings.start()
            self._calibrate_then_story()

    def _calibrate_then_story(self) -> None:
        """After consent: the "relax your face" step when a sensor answers, then the story."""
        if self.options.calibrate and self.feelings.sensing:
            self.stack.push(CalibrationScene(self, then=self._first_scene))
        else:
            self._first_scene()

    def recalibrate(self) -> None:
        """From the pause menu: resume, and learn the player's resting face again."""
        while self.paused:
            self.stack.pop()
        self.stack.push(CalibrationScene(self, then=lambda: None))

    def _first_scene(self) -> None:
        self.history.clear()
        self.stack.replace(StoryScene(self, self.story.start))

    def go_to(self, scene_id: str) -> None:
        node = self.story.scenes[scene_id]
        self.stack.replace(EndingScene(self, scene_id) if node.is_ending else StoryScene(self, scene_id))

    def restart(self) -> None:
        while len(self.stack) > 1:
            self.stack.pop()
        if isinstance(self.stack.top, TitleScene):
            self.begin()  # not started yet: the consent screen still comes first
        else:
            self._first_scene()

    def quit(self) -> None:
        self.running = False

    # -- controls that work everywhere -------------------------------------------------------------------------
    def toast(self, message: str) -> None:
        if message:
            self._toast = (message, self.t + TOAST_S)

    @property
    def paused(self) -> bool:
        return any(isinstance(scene, PauseScene) for scene in self.stack)

    def toggle_camera(self) -> None:
        f = self.feelings
        if f.sensor is None:
            self.toast("No sensor: the game was started with --keyboard. Keys 1-7 set your expression.")
        elif f.camera_wanted:
            self.toast(f.camera_off())
        elif f.needs_consent:
            self.stack.push(ConsentScene(self, then=lambda: None))
        else:
            self.camera_on()

    def camera_on(self) -> None:
        """Start the camera now, or when the pause menu closes."""
        if self.paused:
            self.feelings.start_on_unhold()
            self.toast("The camera starts when you resume.")
        else:
            self.toast(self.feelings.camera_on())

    def toggle_log(self) -> None:
        f = self.feelings
        if f.log_open:
            self.toast(f.stop_log())
        elif f.sensor is None:
            self.toast(f.start_log())  # explains why not
        elif f.log_key_file is not None:
            self.toast(f.start_log())
        else:
            self.stack.push(PassphraseScene(self))

    def handle_event(self, event: pygame.event.Event) -> None:
        if event.type == pygame.QUIT:
            self.quit()
            return
        if getattr(event, "emoplay", None) is not None:
            self.feelings.on_sensor_event(event.emoplay)
            return
        if self.stack.handle_event(event) or event.type != pygame.KEYDOWN:
            return
        key = event.key
        if pygame.K_1 <= key <= pygame.K_7 or pygame.K_KP1 <= key <= pygame.K_KP7:
            index = key - (pygame.K_1 if key <= pygame.K_7 else pygame.K_KP1)
            if not self.feelings.press(KEY_EMOTIONS[index]):
                self.toast("The camera is answering for you. Press C to turn it off and use the keys.")
        elif key == pygame.K_c:
            self.toggle_camera()
        elif key == pygame.K_k:
            self.toast(self.feelings.camera_off() if self.feelings.sensor is not None else
                       "Keyboard mode: keys 1-7 set your expression (simulated).")
        elif key == pygame.K_l:
            self.toggle_log()
        elif key in (pygame.K_ESCAPE, pygame.K_p):
            self.stack.push(PauseScene(self))

    # -- the loop ---------------------------------------------------------------------------------------------
    def frame(self, dt: float) -> None:
        """One frame: scripted keys, sensor events, input, update, draw."""
        self.t += dt
        self.frames += 1
        self._play_script()
        self.feelings.pump()
        self.music.update()
        while self.feelings.notices:
            self.toast(self.feelings.notices.pop(0))
        for event in pygame.event.get():
            self.handle_event(event)
            if not self.running:
                return
        self.stack.update(dt)
        self.draw(self.screen)
        pygame.display.flip()
        if self.options.max_frames is not None and self.frames >= self.options.max_frames:
            self.quit()

    def run(self) -> dict:
        """Play until the player quits; returns frame-time statistics."""
        clock = pygame.time.Clock()
        last = time.perf_counter()
        try:
            while self.running:
                clock.tick(FPS)
                now = time.perf_counter()
                dt, last = now - last, now
                self.frame_ms.append(dt * 1000)
                self.frame(min(dt, 0.1))  # after a long stall, don't jump the story ahead
                self.work_ms.append((time.perf_counter() - now) * 1000)
        finally:
            self.close()
        return self.stats()

    def close(self) -> None:
        """Release the camera, close a log, stop the music, close the window. Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.running = False
        sensor = self.feelings.sensor
        self.final_camera_state = sensor.camera_state.value if sensor is not None else "none"
        while len(self.stack):
            self.stack.pop()
        self.feelings.close()
        self.music.close()
        pygame.display.quit()

    def stats(self) -> dict:
        import numpy as np

        def summary(values: list[float]) -> dict:
            if not values:
                return {}
            a = np.asarray(values)
            return {"mean": float(a.mean()), "p50": float(np.percentile(a, 50)), "p90": float(np.percentile(a, 90)),
                    "p99": float(np.percentile(a, 99)), "max": float(a.max())}

        frames = self.frame_ms[1:]  # the first tick measures start-up, not a frame
        seconds = sum(frames) / 1000
        sensor = self.feelings.sensor
        return {
            "frames": len(frames),
            "seconds": seconds,
            "fps": len(frames) / seconds if seconds else 0.0,
            "frame_ms": summary(frames),
            "work_ms": summary(self.work_ms[1:]),
            "late_frames": int(sum(1 for ms in frames if ms > LATE_FRAME_MS)),
            "source": self.options.source,
            "sensor_frames": sensor.frames_processed if sensor is not None else 0,
            "camera_state_at_exit": self.final_camera_state,
            "answers": self.answers,
            "endings_found": sorted(self.endings_found),
        }

    def _play_script(self) -> None:
        if not self._script or self.frames % SCRIPT_INTERVAL:
            return
        if self._script_pos >= len(self._script):
            if not self.options.loop_script:
                return
            self._script_pos = 0
        token = self._script[self._script_pos]
        self._script_pos += 1
        for event in script_events(token):
            pygame.event.post(event)

    # -- drawing ----------------------------------------------------------------------------------------------
    def draw(self, surface: pygame.Surface) -> None:
        self.stack.draw(surface)
        self.draw_hud(surface)

    def draw_hud(self, surface: pygame.Surface) -> None:
        f = self.feelings
        x = 12
        rect = f.draw_indicator(surface, (x, 10))  # every frame: the indicator is the camera's heartbeat
        if rect is not None and rect.width:
            x = rect.right + 8
        if f.log_open:
            self._pill(surface, "LOG ON", AMBER, (x, 10))
        self._draw_emotion(surface)
        message = f.status if f.problem or self.t >= self._toast[1] else self._toast[0]
        self.banner_rect = None
        if message:
            self._banner(surface, message, warn=f.problem)
        surface.blit(self._cached(("strip",), lambda: _translucent((WIDTH, STRIP_H), (8, 10, 20, 170), 0)),
                     (0, HEIGHT - STRIP_H))
        top = self.stack.top
        hints = top.hints() if top is not None else ""
        line = self._cached(("hint", hints), lambda: self.fonts.hint.render(hints, True, DIM))
        surface.blit(line, (24, HEIGHT - 30))
        keys = "C camera   L log   Esc menu"
        right = self._cached(("keys", keys), lambda: self.fonts.hint.render(keys, True, DIM))
        self.footer = hints
        if top is not None and top.global_keys and line.get_width() + right.get_width() + 60 < WIDTH:
            surface.blit(right, (WIDTH - 24 - right.get_width(), HEIGHT - 30))
            self.footer = f"{hints}    {keys}"

    def _draw_emotion(self, surface: pygame.Surface) -> None:
        reading = self.feelings.reading()
        if self.feelings.held:  # the pause menu paused the camera: no reading, and no simulated one either
            text, reading = "camera paused", Reading(None, None, reading.origin)
        elif reading.emotion is None:
            text = f"no face  ({reading.origin})"
        elif reading.confidence is None or reading.origin == SIMULATED:
            text = f"{reading.emotion}  (simulated)"
        else:
            text = f"{reading.emotion} {reading.confidence:.0%}  ({reading.origin})"
        self.hud_emotion = text
        colour = EMOTION_COLOURS.get(reading.emotion or "unknown", DIM)
        image = self._cached(("emotion", text), lambda: self.fonts.hint.render(text, True, INK))
        self._pill(surface, image, colour, (WIDTH - 12 - image.get_width() - 38, 10))

    def _pill(self, surface: pygame.Surface, text, colour, topleft) -> pygame.Rect:
        image = text if isinstance(text, pygame.Surface) else \
            self._cached(("pill", text), lambda: self.fonts.hint.render(text, True, INK))
        rect = pygame.Rect(topleft, (image.get_width() + 38, 32))
        back = self._cached(("pillbg", rect.size), lambda: _translucent(rect.size, (12, 16, 30, 190), 16))
        surface.blit(back, rect.topleft)
        pygame.draw.circle(surface, colour, (rect.x + 16, rect.centery), 6)
        surface.blit(image, (rect.x + 28, rect.centery - image.get_height() // 2))
        return rect

    def _banner(self, surface: pygame.Surface, message: str, warn: bool) -> None:
        def render() -> pygame.Surface:
            lines = art.wrap(self.fonts.small, message, 640)
            images = [self.fonts.small.render(line, True, INK) for line in lines]
            height = sum(i.get_height() + 4 for i in images) + 16
            banner = _translucent((max(i.get_width() for i in images) + 40, height), (12, 16, 30, 220), 10)
            pygame.draw.rect(banner, AMBER if warn else (90, 100, 130), banner.get_rect(), 2, border_radius=10)
            y = 10
            for image in images:
                banner.blit(image, (20, y))
                y += image.get_height() + 4
            return banner

        banner = self._cached(("banner", message, warn), render)
        self.banner_rect = self._banner_place(banner.get_size())
        surface.blit(banner, self.banner_rect.topleft)

    def _banner_place(self, size: tuple[int, int]) -> pygame.Rect:
        """Below the HUD's top row, or above the key strip when that would cover the top scene's panel."""
        top = self.stack.top
        panels = top.layout.panels if top is not None else []
        rect = pygame.Rect(((WIDTH - size[0]) // 2, BANNER_TOP), size)
        for y in (BANNER_TOP, HEIGHT - STRIP_H - 8 - size[1]):
            rect.y = y
            if rect.collidelist(panels) < 0:
                break
        return rect

    def _cached(self, key: tuple, make) -> pygame.Surface:
        image = self._hud_cache.get(key)
        if image is None:
            if len(self._hud_cache) > 200:
                self._hud_cache.clear()
            image = self._hud_cache[key] = make()
        return image


def _translucent(size: tuple[int, int], colour: tuple[int, int, int, int], radius: int) -> pygame.Surface:
    surface = pygame.Surface(size, pygame.SRCALPHA)
    pygame.draw.rect(surface, colour, surface.get_rect(), border_radius=radius)
    return surface


def script_events(token: str) -> list[pygame.event.Event]:
    """The pygame events for one script token: "1".."7", "space", "enter", "esc", a letter, "text:abc", "wait"."""
    if token == "wait":
        return []
    if token.startswith("text:"):
        return [pygame.event.Event(pygame.TEXTINPUT, text=token[5:])]
    key = _NAMED_KEYS.get(token)
    if key is None:
        try:
            key = pygame.key.key_code(token)
        except ValueError:
            raise ValueError(f"unknown script token {token!r}") from None
    return [pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0),
            pygame.event.Event(pygame.KEYUP, key=key, mod=0, unicode="", scancode=0)]


def run_headless(source: str | None, seconds: float, *, script: Sequence[str] | None = None,
                 story: str | Path = DEFAULT_STORY, consent: bool = False, log_dir: str | Path | None = None,
                 realtime: bool = True, calibrate: bool = False) -> dict:
    """Play the game without a window for ``seconds`` at 60 fps; return frame-time statistics.

    ``source`` is None (keyboard only), a video file, an image folder or "camera" (then ``consent=True``
    means the person running it agreed to the camera). Without ``script`` the game plays itself: a
    repeated walk through the story with the number keys (keyboard) or the face in the video (sensor).
    Uses the dummy SDL video driver unless one is set, and no audio. The returned dict has ``fps``,
    ``frame_ms`` and ``work_ms`` ({mean, p50, p90, p99, max}), ``late_frames`` and sensor counts.
    ``calibrate=True`` keeps the "relax your face" step (off here, so timed runs start the story at once).
    """
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    if script is None:
        if source is None:  # skip the typing, press an emotion, answer, skip the reply, continue
            script = ["enter"] + [t for e in "142375" for t in ("space", e, "wait", "space", "space", "space")]
        else:  # the face in the video answers; SPACE reads on
            script = ["enter", "wait", "space"] + ["wait"] * 8 + ["space", "space"]
    options = GameOptions(source=source, story=Path(story), script=list(script), loop_script=True,
                          max_frames=max(1, int(seconds * FPS)), mute=True, consent=consent,
                          log_dir=Path(log_dir) if log_dir else None, realtime=realtime, calibrate=calibrate)
    return Game(options).run()


def _tiles(text: str) -> str | tuple[int, int]:
    """--detector-tiles: off, auto or COLSxROWS, as emoplay's own commands read it."""
    from emoplay.detection import parse_tiles

    try:
        return parse_tiles(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m examples.game_demo",
                                description="The Keeper of Gull Rock: a short story game that reacts to your face.")
    p.add_argument("--source", default="camera",
                   help="'camera' (default; asks for consent first), a camera index, or a video file/image folder")
    p.add_argument("--keyboard", action="store_true", help="no sensor at all: keys 1-7 set your expression")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--detector-range", choices=("short", "full", "auto"), default="short",
                   help="face detector: short (one player near the camera; default), full (a couch, a party: "
                        "faces 2-5 m away) or auto")
    p.add_argument("--detector-tiles", type=_tiles, default="off", metavar="off|auto|COLSxROWS",
                   help="with --detector-range full or auto: also look for small faces on tiles of the frame (a "
                        "group far from the camera; several times the detector's work); default off")
    p.add_argument("--story", type=Path, default=DEFAULT_STORY, help="another story file (.toml or .json)")
    p.add_argument("--log-key-file", type=Path, help="key file for the encrypted log (else L asks for a passphrase)")
    p.add_argument("--log-dir", type=Path, help="where L writes session logs (default: the user data folder, "
                                                "e.g. ~/.local/share/emoplay/game_demo)")
    p.add_argument("--mute", action="store_true", help="no music")
    p.add_argument("--no-calibration", action="store_true", help='skip the "relax your face" step before the story')
    p.add_argument("--max-frames", type=int, help="quit after N frames (automation)")
    p.add_argument("--script", help="key presses to play, space separated, e.g. 'enter n 1 space space'")
    p.add_argument("--stats", action="store_true", help="print frame-time statistics at exit")
    p.add_argument("--verbose", action="store_true", help="print what the game logs for developers (e.g. why a "
                                                          "calibration failed, with emoplay's measurements)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if args.max_frames is not None and args.max_frames < 1:
        print("error: --max-frames must be at least 1", file=sys.stderr)
        return 2
    options = GameOptions(source=None if args.keyboard else args.source, story=args.story,
                          fullscreen=args.fullscreen, max_frames=args.max_frames,
                          script=args.script.split() if args.script else [], log_dir=args.log_dir,
                          log_key_file=args.log_key_file, mute=args.mute, calibrate=not args.no_calibration,
                          detector_range=args.detector_range, detector_tiles=args.detector_tiles)
    try:
        game = Game(options)  # checks the story and the script first
    except (StoryError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except pygame.error as exc:
        print(f"error: cannot open a window ({exc}); set SDL_VIDEODRIVER=dummy to run without a display",
              file=sys.stderr)
        return 1
    stats = game.run()
    if args.stats:
        fm = stats["frame_ms"]
        print(f"{stats['frames']} frames, {stats['fps']:.1f} fps; frame ms p50 {fm.get('p50', 0):.1f} "
              f"p99 {fm.get('p99', 0):.1f} max {fm.get('max', 0):.1f}; late frames {stats['late_frames']}")
    return 0
