"""The game's scenes and the small stack that runs them.

Each scene has ``on_enter()``, ``on_exit()``, ``handle_event(event) -> bool`` (True: used it),
``update(dt)`` and ``draw(surface)``. Only the top scene gets events and updates; a scene with
``opaque = False`` (the pause menu, the passphrase prompt) is drawn over the one below it.
The game (``app.Game``) draws the heads-up display, camera indicator included, over every scene.

Each drawing notes its panels and the text it put on them in the scene's :class:`Layout`: the game
places its messages where they cover no panel, and the tests check that no text leaves its panel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pygame

from . import art
from .art import AMBER, DIM, EMOTION_COLOURS, HEIGHT, INK, WIDTH

if TYPE_CHECKING:
    from .app import Game

TYPE_SPEED = 55.0  # characters per second for the keeper's words; SPACE shows them all at once
CAMERA_HOLD_S = 1.5  # a face must hold one expression this long before the keeper answers it
KEYS_HOLD_S = 1.5  # after a number key: long enough to change your mind, short enough to feel responsive
CONFIRM_KEYS = (pygame.K_SPACE, pygame.K_RETURN, pygame.K_KP_ENTER)
ALLOW_KEYS = (pygame.K_y,)  # the consent screen: only Y opens the camera, never ENTER (the title's begin key)
DECLINE_KEYS = (pygame.K_n, pygame.K_k, pygame.K_ESCAPE)
CALIBRATION_WAIT_S = 20.0  # give up on a calibration that has not ended by then (a camera that never starts)
THANKS_S = 1.2  # how long "thank you" shows before the story goes on


class Layout:
    """What one drawing of a scene put where: its panels and the rectangles of its text."""

    def __init__(self) -> None:
        self.panels: list[pygame.Rect] = []
        self.texts: list[tuple[str, pygame.Rect]] = []  # (what it says, where)

    def panel(self, surface: pygame.Surface, image: pygame.Surface, topleft: tuple[int, int]) -> pygame.Rect:
        rect = surface.blit(image, topleft)
        self.panels.append(pygame.Rect(topleft, image.get_size()))
        return rect

    def text(self, surface: pygame.Surface, image: pygame.Surface, topleft: tuple[int, int], words: str = ""
             ) -> pygame.Rect:
        surface.blit(image, topleft)
        rect = pygame.Rect(topleft, image.get_size())
        self.texts.append((words, rect))
        return rect

    def centered(self, surface: pygame.Surface, image: pygame.Surface, center_x: int, y: int, words: str = ""
                 ) -> pygame.Rect:
        return self.text(surface, image, (center_x - image.get_width() // 2, y), words)


class Scene:
    opaque = True
    global_keys = True  # the camera/log/menu keys work here (the HUD lists them)

    def __init__(self, game: "Game") -> None:
        self.game = game
        self.layout = Layout()  # of the latest drawing

    def on_enter(self) -> None:
        pass

    def on_exit(self) -> None:
        pass

    def handle_event(self, event: pygame.event.Event) -> bool:
        return False

    def update(self, dt: float) -> None:
        pass

    def draw(self, surface: pygame.Surface) -> None:
        pass

    def hints(self) -> str:
        """What the keys do here, for the bottom line of the screen."""
        return ""


class SceneStack:
    def __init__(self) -> None:
        self._scenes: list[Scene] = []

    @property
    def top(self) -> Scene | None:
        return self._scenes[-1] if self._scenes else None

    def __len__(self) -> int:
        return len(self._scenes)

    def __iter__(self):
        return iter(list(self._scenes))

    def push(self, scene: Scene) -> None:
        self._scenes.append(scene)
        scene.on_enter()

    def pop(self) -> Scene:
        scene = self._scenes.pop()
        scene.on_exit()
        return scene

    def replace(self, scene: Scene) -> None:
        if self._scenes:
            self.pop()
        self.push(scene)

    def clear(self) -> None:
        while self._scenes:
            self.pop()

    def handle_event(self, event: pygame.event.Event) -> bool:
        return self.top.handle_event(event) if self._scenes else False

    def update(self, dt: float) -> None:
        if self._scenes:
            self.top.update(dt)

    def draw(self, surface: pygame.Surface) -> None:
        first = 0
        for i in range(len(self._scenes) - 1, -1, -1):
            if self._scenes[i].opaque:
                first = i
                break
        for scene in self._scenes[first:]:
            scene.layout = Layout()
            scene.draw(surface)


class TextBlock:
    """Wrapped text whose rendered lines are cached; ``draw(..., chars=n)`` types it out."""

    def __init__(self, font: pygame.font.Font, text: str, width: int, colour=INK, line_gap: int = 4) -> None:
        self.font, self.colour = font, colour
        self.lines = art.wrap(font, text, width)
        self.length = sum(len(line) for line in self.lines)
        self.line_height = font.get_linesize() + line_gap
        self._full = [font.render(line, True, colour) for line in self.lines]
        self._partial: tuple[int, int, pygame.Surface] | None = None

    @property
    def height(self) -> int:
        return self.line_height * len(self.lines)

    def draw(self, surface: pygame.Surface, topleft: tuple[int, int], chars: float | None = None,
             centered: bool = False, layout: Layout | None = None) -> int:
        """Draw (the first ``chars`` characters), noting each line in ``layout``; returns the y below the block."""
        x, y = topleft
        left = self.length if chars is None else int(chars)
        for i, line in enumerate(self.lines):
            if left <= 0:
                break
            if left >= len(line):
                image = self._full[i]
            else:
                if self._partial is None or self._partial[:2] != (i, left):
                    self._partial = (i, left, self.font.render(line[:left], True, self.colour))
                image = self._partial[2]
            left -= len(line)
            at = (x - image.get_width() // 2 if centered else x, y)
            if layout is None:
                surface.blit(image, at)
            else:
                layout.text(surface, image, at, line)
            y += self.line_height
        return topleft[1] + self.height


def dim(surface: pygame.Surface, alpha: int = 150) -> None:
    shade = pygame.Surface(surface.get_size(), pygame.SRCALPHA)
    shade.fill((6, 8, 16, alpha))
    surface.blit(shade, (0, 0))


def caption(font: pygame.font.Font, text: str) -> pygame.Surface:
    """A scene title on a translucent pill, readable over any background."""
    image = font.render(text, True, INK)
    pill = pygame.Surface((image.get_width() + 36, image.get_height() + 14), pygame.SRCALPHA)
    pygame.draw.rect(pill, (10, 14, 28, 170), pill.get_rect(), border_radius=pill.get_height() // 2)
    pill.blit(image, (18, 7))
    return pill


def name_tab(font: pygame.font.Font, name: str) -> pygame.Surface:
    """The speaker's name on a small tab over the dialogue panel's edge."""
    image = font.render(name, True, AMBER)
    tab = pygame.Surface((image.get_width() + 28, image.get_height() + 12), pygame.SRCALPHA)
    pygame.draw.rect(tab, (10, 14, 28, 240), tab.get_rect(), border_radius=10)
    pygame.draw.rect(tab, art.PANEL_EDGE, tab.get_rect(), width=2, border_radius=10)
    tab.blit(image, (14, 7))
    return tab


DIALOGUE = pygame.Rect(24, 312, WIDTH - 48, 180)  # the keeper's words
CONSENT_CARD = pygame.Rect(70, 56, WIDTH - 140, 384)  # leaves room for a message above the key strip
CALIBRATION_CARD = pygame.Rect(120, 96, WIDTH - 240, 330)
CARD_TEXT_W = CALIBRATION_CARD.width - 80  # text inside a card keeps 40 px from each side
TEXT_X, TEXT_Y, TEXT_W = DIALOGUE.x + 24, DIALOGUE.y + 30, DIALOGUE.width - 48
KEEPER_AT = (790, 196)


class TitleScene(Scene):
    def on_enter(self) -> None:
        g = self.game
        g.music.play("storm")
        f = g.fonts
        self.title = f.title.render(g.story.title, True, AMBER)
        self.subtitle = f.body.render("A short story about being seen.", True, INK)
        f_source = g.feelings
        if f_source.sensor is None and f_source.source is None:
            how = "You answer with the keys 1-7 (simulated expressions)."
        elif f_source.origin == "camera":
            how = "The keeper reads your face through the camera, if you allow it."
        else:
            how = f"The keeper reads the face in the video {g.source_label}."
        self.how = TextBlock(f.small, how, 600, DIM)
        self.start = f.name.render("Press ENTER to begin", True, INK)

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type == pygame.KEYDOWN and event.key in CONFIRM_KEYS:
            self.game.begin()
            return True
        return False

    def draw(self, surface: pygame.Surface) -> None:
        g = self.game
        g.backdrop.draw(surface, "storm", g.t)
        card = pygame.Rect(150, 110, 660, 300)
        layout = self.layout
        layout.panel(surface, art.panel(card.size), card.topleft)
        layout.centered(surface, self.title, WIDTH // 2, card.y + 34, g.story.title)
        layout.centered(surface, self.subtitle, WIDTH // 2, card.y + 110)
        self.how.draw(surface, (WIDTH // 2, card.y + 160), centered=True, layout=layout)
        layout.centered(surface, self.start, WIDTH // 2, card.y + 236)

    def hints(self) -> str:
        return "ENTER begin"  # the HUD adds the keys that work everywhere (Esc menu)


class ConsentScene(Scene):
    """Asked before the camera ever opens. ``then`` runs after the answer (either way).

    Only Y allows the camera. N, K or Esc decline. ENTER and SPACE (the keys that got the player here) answer
    nothing: pressing ENTER twice on the title must not open the camera.
    """

    LINES = (
        "Maren can react to your facial expression, read through your webcam.",
        "- The video is processed on this computer only. No image is saved or sent anywhere.",
        "- A red CAMERA ON sign shows whenever the camera is capturing.",
        "- Press C at any time to turn the camera off; it is released at once.",
        "- Nothing is recorded unless you press L to start an encrypted session log.",
    )
    global_keys = False

    def __init__(self, game: "Game", then: Callable[[], None]) -> None:
        super().__init__(game)
        self.then = then

    def on_enter(self) -> None:
        f = self.game.fonts
        self.heading = f.heading.render("May the keeper see your face?", True, AMBER)
        self.blocks = [TextBlock(f.small, line, CONSENT_CARD.width - 80, INK if i == 0 else DIM)
                       for i, line in enumerate(self.LINES)]
        self.yes = f.name.render("Y  allow the camera", True, INK)
        self.no = f.name.render("N  no, play with the keyboard (or K, Esc)", True, INK)

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type != pygame.KEYDOWN:
            return False
        if event.key in ALLOW_KEYS:
            self.game.feelings.grant_consent()
            self.game.camera_on()
            self.game.toast("Camera allowed. Press C to turn it off at any time.")
        elif event.key in DECLINE_KEYS:
            self.game.toast("Camera stays off. Keys 1-7 set your expression (simulated).")
        else:
            return True  # every other key, ENTER included, waits for an answer
        self.game.stack.pop()
        self.then()
        return True

    def draw(self, surface: pygame.Surface) -> None:
        g = self.game
        g.backdrop.draw(surface, "hearth", g.t)
        dim(surface, 120)
        card = CONSENT_CARD
        layout = self.layout
        layout.panel(surface, art.panel(card.size), card.topleft)
        layout.centered(surface, self.heading, WIDTH // 2, card.y + 26)
        y = card.y + 88
        for block in self.blocks:
            y = block.draw(surface, (card.x + 40, y), layout=layout) + 8
        layout.text(surface, self.yes, (card.x + 40, card.bottom - 84))
        layout.text(surface, self.no, (card.x + 40, card.bottom - 46))

    def hints(self) -> str:
        return "Y allow    N, K or Esc keyboard instead"


class CalibrationScene(Scene):
    """"Relax your face": the keeper learns the player's resting face (emoplay's Sensor.calibrate).

    It starts once the sensor captures, shows the progress, thanks the player and goes on with
    ``then()``; SPACE skips (a previous calibration is kept). A failure says why and offers R to
    try again. Without a sensor answering (keyboard, camera off or failed) it goes straight on.
    """

    def __init__(self, game: "Game", then: Callable[[], None]) -> None:
        super().__init__(game)
        self.then = then
        self.state = "waiting"  # waiting (for capture) -> collecting -> thanks | failed
        self.since = 0.0

    def on_enter(self) -> None:
        f = self.game.fonts
        self.heading = f.heading.render("Relax your face", True, AMBER)
        self.text = TextBlock(f.small, "Look at the screen with a relaxed, neutral face for a few seconds. Maren "
                                       "learns what your resting face looks like, so she reads you better. Nothing "
                                       "is saved: it stays in this game's memory.", CARD_TEXT_W, INK)
        self.since = self.game.t

    def update(self, dt: float) -> None:
        feelings = self.game.feelings
        if self.state == "waiting":
            if not feelings.sensing:
                self.done()  # keyboard, camera off, or the sensor failed: nothing to calibrate
            elif feelings.capturing:
                feelings.calibrate(self.game.options.calibration_s)
                self.state, self.since = "collecting", self.game.t
        elif self.state == "collecting":
            result = feelings.calibration_result
            if result == "finished":
                self.state, self.since = "thanks", self.game.t
            elif result is not None or self.game.t - self.since > CALIBRATION_WAIT_S:
                self.state = "failed"
                self.reason = TextBlock(self.game.fonts.small, feelings.calibration_message or
                                        "Maren could not learn your resting face. Press R to try again.",
                                        CARD_TEXT_W, AMBER)
            elif not feelings.sensing:
                self.done()  # the camera was turned off
        elif self.state == "thanks" and self.game.t - self.since >= THANKS_S:
            self.done()

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type != pygame.KEYDOWN:
            return False
        if event.key in CONFIRM_KEYS:
            if self.state == "collecting":
                self.game.feelings.cancel_calibration()
            self.done()
        elif event.key == pygame.K_r and self.state == "failed":
            self.state = "waiting"
        else:
            return False
        return True

    def done(self) -> None:
        if self.game.stack.top is self:
            self.game.stack.pop()
            self.then()

    def draw(self, surface: pygame.Surface) -> None:
        g = self.game
        g.backdrop.draw(surface, "hearth", g.t)
        dim(surface, 120)
        card = CALIBRATION_CARD
        layout = self.layout
        layout.panel(surface, art.panel(card.size), card.topleft)
        layout.centered(surface, self.heading, WIDTH // 2, card.y + 26)
        self.text.draw(surface, (card.x + 40, card.y + 90), layout=layout)
        bar = pygame.Rect(card.x + 40, card.y + 200, card.width - 80, 22)
        progress = {"waiting": 0.0, "thanks": 1.0}.get(self.state, g.feelings.calibration_progress)
        pygame.draw.rect(surface, (40, 44, 60), bar, border_radius=10)
        if progress > 0:
            pygame.draw.rect(surface, EMOTION_COLOURS.get("neutral", DIM),
                             (bar.x, bar.y, max(20, int(bar.width * progress)), bar.height), border_radius=10)
        pygame.draw.rect(surface, DIM, bar, width=1, border_radius=10)
        if self.state == "failed":
            self.reason.draw(surface, (card.x + 40, bar.bottom + 18), layout=layout)
        else:
            label = {"waiting": "Starting the camera...", "collecting": f"Relax... {progress:.0%}",
                     "thanks": "Thank you. Maren knows your resting face now."}[self.state]
            layout.text(surface, g.fonts.small.render(label, True, INK), (card.x + 40, bar.bottom + 18), label)

    def hints(self) -> str:
        return "R try again    SPACE skip" if self.state == "failed" else "SPACE skip"


class StoryScene(Scene):
    """One scene of the story: the keeper speaks, reads your expression, and answers it."""

    def __init__(self, game: "Game", scene_id: str) -> None:
        super().__init__(game)
        self.node = game.story.scenes[scene_id]
        self.phase = "intro"  # intro -> look -> reply
        self.chars = 0.0
        self.answer: str | None = None
        self.response = None

    def on_enter(self) -> None:
        f = self.game.fonts
        self.game.music.play(self.node.mood)
        self.face = self.node.face
        self.caption = caption(f.name, self.node.title)
        self.name = name_tab(f.name, self.game.story.npc)
        self.text = TextBlock(f.body, self.node.text, TEXT_W)
        self.phase, self.chars = "intro", 0.0
        self.entered_at = self.game.feelings.clock()

    def answer_with(self, emotion: str) -> None:
        self.answer = emotion
        self.response = self.node.respond(emotion)
        self.face = self.response.face
        self.game.history.append((self.node.id, emotion))
        self.game.answers += 1
        f = self.game.fonts
        colour = EMOTION_COLOURS.get(emotion, DIM)
        self.seen = f.small.render(f"Maren sees you look {emotion}.", True, colour)
        self.reply = TextBlock(f.body, self.response.reply, TEXT_W)
        self.phase, self.chars = "reply", 0.0

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type != pygame.KEYDOWN or event.key not in CONFIRM_KEYS:
            return False
        block = self.text if self.phase == "intro" else self.reply if self.phase == "reply" else None
        if block is not None and self.chars < block.length:
            self.chars = block.length  # show the whole line at once
            if self.phase == "intro":
                self.phase = "look"
        elif self.phase == "intro":
            self.phase = "look"
        elif self.phase == "look":
            reading = self.game.feelings.reading()
            if reading.emotion in (None, "unknown"):
                self.game.toast("Maren can't make out your face yet.")
            else:
                self.answer_with(reading.emotion)
        else:
            self.game.go_to(self.response.next)
        return True

    def update(self, dt: float) -> None:
        self.chars += TYPE_SPEED * dt
        if self.phase == "intro" and self.chars >= self.text.length + TYPE_SPEED * 0.6:
            self.phase = "look"
        elif self.phase == "look":
            feelings = self.game.feelings
            reading = feelings.reading()
            if reading.emotion not in (None, "unknown") and feelings.stable_for() >= self.hold_needed(reading):
                self.answer_with(reading.emotion)

    def hold_needed(self, reading) -> float:
        if reading.origin == "simulated":
            # A key press starts the count; the neutral you start with never answers by itself.
            return KEYS_HOLD_S if self.game.feelings.pressed_at >= self.entered_at else float("inf")
        return CAMERA_HOLD_S

    def draw(self, surface: pygame.Surface) -> None:
        g = self.game
        g.backdrop.draw(surface, self.node.setting, g.t)
        art.draw_keeper(surface, KEEPER_AT, self.face, g.t)
        layout = self.layout
        layout.panel(surface, self.caption, (WIDTH // 2 - self.caption.get_width() // 2, 54))
        layout.panel(surface, g.dialogue_panel, DIALOGUE.topleft)
        surface.blit(self.name, (DIALOGUE.x + 20, DIALOGUE.y - 20))
        if self.phase == "reply":
            layout.text(surface, self.seen, (TEXT_X, TEXT_Y - 6))
            self.reply.draw(surface, (TEXT_X, TEXT_Y + 26), self.chars, layout=layout)
        else:
            bottom = self.text.draw(surface, (TEXT_X, TEXT_Y), None if self.phase == "look" else self.chars,
                                    layout=layout)
            if self.phase == "look":
                self._draw_meter(surface, max(bottom + 2, DIALOGUE.bottom - 34))

    def _draw_meter(self, surface: pygame.Surface, y: int) -> None:
        g = self.game
        reading = g.feelings.reading()
        if reading.emotion in (None, "unknown"):
            label = "Maren looks for your face..." if reading.origin != "simulated" else "How do you look?"
            progress, colour = 0.0, DIM
        else:
            need = self.hold_needed(reading)
            progress = 0.0 if need == float("inf") else min(1.0, g.feelings.stable_for() / need)
            colour = EMOTION_COLOURS.get(reading.emotion, DIM)
            label = f"Maren studies your face: {reading.emotion}"
            if reading.origin == "simulated" and progress == 0.0:
                label = "How do you look? Press a key from 1 to 7."
        self.layout.text(surface, g.fonts.small.render(label, True, colour), (TEXT_X, y), label)
        bar = pygame.Rect(DIALOGUE.right - 24 - 220, y + 2, 220, 16)
        pygame.draw.rect(surface, (40, 44, 60), bar, border_radius=8)
        if progress > 0:
            pygame.draw.rect(surface, colour, (bar.x, bar.y, max(16, int(bar.width * progress)), bar.height),
                             border_radius=8)
        pygame.draw.rect(surface, DIM, bar, width=1, border_radius=8)

    def hints(self) -> str:
        if self.phase == "look":
            if self.game.feelings.reading().origin == "simulated":
                return "1 happy  2 sad  3 angry  4 surprise  5 fear  6 disgust  7 neutral   SPACE answer"
            return "Show Maren how you feel    SPACE answer now"
        return "SPACE continue"


class EndingScene(Scene):
    def __init__(self, game: "Game", scene_id: str) -> None:
        super().__init__(game)
        self.node = game.story.scenes[scene_id]

    def on_enter(self) -> None:
        g, f = self.game, self.game.fonts
        g.music.play(self.node.mood)
        g.endings_found.add(self.node.id)
        self.label = f.small.render("AN ENDING", True, DIM)
        self.heading = f.heading.render(self.node.ending, True, AMBER)
        self.text = TextBlock(f.body, self.node.text, 560)
        path = "  >  ".join(emotion for _, emotion in g.history) or "-"
        self.path = TextBlock(f.small, f"Your path: {path}", 560, DIM)
        total = len(g.story.endings)
        self.found = f.small.render(f"Endings found: {len(g.endings_found)} of {total}", True, INK)
        height = 100 + self.text.height + 18 + self.path.height + 14 + self.found.get_height() + 26
        self.card = art.panel((620, height))
        self.card_at = (36, max(56, (HEIGHT - 40 - height) // 2))

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type == pygame.KEYDOWN and event.key in CONFIRM_KEYS:
            self.game.restart()
            return True
        return False

    def draw(self, surface: pygame.Surface) -> None:
        g = self.game
        g.backdrop.draw(surface, self.node.setting, g.t)
        art.draw_keeper(surface, KEEPER_AT, self.node.face, g.t)
        layout = self.layout
        layout.panel(surface, self.card, self.card_at)
        x, y = self.card_at[0] + 28, self.card_at[1]
        layout.text(surface, self.label, (x, y + 22))
        layout.text(surface, self.heading, (x, y + 48), self.node.ending)
        y = self.text.draw(surface, (x, y + 100), layout=layout)
        y = self.path.draw(surface, (x, y + 18), layout=layout)
        layout.text(surface, self.found, (x, y + 14))

    def hints(self) -> str:
        return "ENTER play again"  # the HUD adds the keys that work everywhere (Esc menu)


PAUSE_MARGIN = 60  # from the pause menu's sides to its items
PAUSE_ROW = 40  # the pause menu's line spacing


class PauseScene(Scene):
    """The pause menu. Pausing the game pauses the camera too (it is released while paused)."""

    opaque = False
    global_keys = False

    def __init__(self, game: "Game") -> None:
        super().__init__(game)
        self.selected = 0

    def items(self) -> list[tuple[str, Callable[[], None]]]:
        g = self.game
        camera = "Turn the camera off" if g.feelings.camera_wanted else "Turn the camera on"
        log = "Stop the encrypted log" if g.feelings.log_open else "Start an encrypted log"
        sensor_items = [(camera, g.toggle_camera), (log, g.toggle_log)] if g.feelings.sensor is not None else []
        if g.feelings.sensor is not None and g.feelings.camera_wanted:
            sensor_items.append(("Relax your face again (calibrate)", g.recalibrate))
        return [("Resume", self.resume), *sensor_items, ("Restart the story", self.restart), ("Quit", g.quit)]

    def on_enter(self) -> None:
        self.game.feelings.hold()
        self.game.music.set_paused(True)

    def on_exit(self) -> None:
        self.game.feelings.unhold()
        self.game.music.set_paused(False)

    def resume(self) -> None:
        self.game.stack.pop()

    def restart(self) -> None:
        self.game.stack.pop()
        self.game.restart()

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type != pygame.KEYDOWN:
            return False
        items = self.items()
        self.selected %= len(items)
        if event.key in (pygame.K_ESCAPE, pygame.K_p):
            self.resume()
        elif event.key in (pygame.K_UP, pygame.K_w):
            self.selected = (self.selected - 1) % len(items)
        elif event.key in (pygame.K_DOWN, pygame.K_s):
            self.selected = (self.selected + 1) % len(items)
        elif event.key in CONFIRM_KEYS:
            items[self.selected][1]()
        elif event.key == pygame.K_r:
            self.restart()
        elif event.key == pygame.K_q:
            self.game.quit()
        else:
            return False  # C, L and the rest work as everywhere else
        return True

    def draw(self, surface: pygame.Surface) -> None:
        f = self.game.fonts
        dim(surface, 170)
        items = self.items()
        texts = [f.name.render(("> " if i == self.selected else "  ") + label, True,
                               INK if i == self.selected else DIM) for i, (label, _) in enumerate(items)]
        card = pygame.Rect(0, 0, max(440, max(t.get_width() for t in texts) + 2 * PAUSE_MARGIN),
                           100 + PAUSE_ROW * len(items))
        card.center = (WIDTH // 2, HEIGHT // 2 - 20)
        layout = self.layout
        layout.panel(surface, art.panel(card.size, opaque=True), card.topleft)
        layout.centered(surface, f.heading.render("Paused", True, AMBER), WIDTH // 2, card.y + 22, "Paused")
        for i, (text, (label, _)) in enumerate(zip(texts, items)):
            layout.text(surface, text, (card.x + PAUSE_MARGIN, card.y + 84 + i * PAUSE_ROW), label)

    def hints(self) -> str:
        return "Up/Down choose    ENTER select    Esc resume    Q quit"


class PassphraseScene(Scene):
    """Type a passphrase for the encrypted session log (shown as stars)."""

    opaque = False
    global_keys = False
    MIN_LENGTH = 8

    def __init__(self, game: "Game") -> None:
        super().__init__(game)
        self.passphrase = ""
        self.error = ""

    def on_enter(self) -> None:
        pygame.key.start_text_input()

    def on_exit(self) -> None:
        pygame.key.stop_text_input()

    def handle_event(self, event: pygame.event.Event) -> bool:
        if event.type == pygame.TEXTINPUT:
            self.passphrase += event.text
            self.error = ""
            return True
        if event.type != pygame.KEYDOWN:
            return False
        if event.key == pygame.K_ESCAPE:
            self.game.stack.pop()
            self.game.toast("No log started.")
        elif event.key == pygame.K_BACKSPACE:
            self.passphrase = self.passphrase[:-1]
        elif event.key in (pygame.K_RETURN, pygame.K_KP_ENTER):
            if len(self.passphrase) < self.MIN_LENGTH:
                self.error = f"At least {self.MIN_LENGTH} characters, please."
            else:
                passphrase, self.passphrase = self.passphrase, ""
                self.game.stack.pop()
                self.game.toast(self.game.feelings.start_log(passphrase))
        return True  # typing never reaches the game's other keys

    def draw(self, surface: pygame.Surface) -> None:
        f = self.game.fonts
        dim(surface, 170)
        card = pygame.Rect(0, 0, 640, 250)
        card.center = (WIDTH // 2, HEIGHT // 2)
        layout = self.layout
        layout.panel(surface, art.panel(card.size, opaque=True), card.topleft)
        layout.centered(surface, f.heading.render("Encrypted session log", True, AMBER), WIDTH // 2, card.y + 20)
        note = "It records emotion events only, never images. Type a passphrase:"
        layout.centered(surface, f.small.render(note, True, DIM), WIDTH // 2, card.y + 76, note)
        field = pygame.Rect(card.x + 50, card.y + 112, card.width - 100, 44)
        pygame.draw.rect(surface, (30, 36, 56), field, border_radius=8)
        pygame.draw.rect(surface, AMBER, field, width=2, border_radius=8)
        caret = "_" if int(self.game.t * 2) % 2 else " "
        stars = "*" * len(self.passphrase)
        while stars and f.name.size(stars + "_")[0] > field.width - 28:  # a long passphrase: as many as fit
            stars = stars[:-1]
        layout.text(surface, f.name.render(stars + caret, True, INK), (field.x + 14, field.y + 10))
        if self.error:
            layout.centered(surface, f.small.render(self.error, True, EMOTION_COLOURS["angry"]), WIDTH // 2,
                            card.bottom - 70, self.error)
        layout.centered(surface, f.small.render("ENTER start    Esc cancel", True, DIM), WIDTH // 2, card.bottom - 38)

    def hints(self) -> str:
        return "ENTER start the log    Esc cancel"
