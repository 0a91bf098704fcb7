"""Everything the game draws that is not text layout: palette, fonts, backgrounds, the keeper.

Backgrounds are painted once per setting into a cached surface; only a few cheap animated
details (rain, flames, the lamp's beam, a bobbing boat light) are drawn each frame.
"""

from __future__ import annotations

import math
import random

import pygame

WIDTH, HEIGHT = 960, 540

# Palette: night blues, a warm lamp amber, off-white text. Pure red is left to the camera indicator.
NIGHT = (16, 22, 40)
DEEP = (26, 36, 62)
SEA = (28, 52, 78)
STONE = (70, 74, 88)
INK = (238, 232, 216)
DIM = (160, 168, 186)
AMBER = (246, 184, 80)
PANEL = (10, 14, 28, 226)
PANEL_EDGE = (120, 98, 60)

EMOTION_COLOURS = {
    "happy": (250, 204, 92),
    "sad": (110, 160, 230),
    "angry": (236, 128, 84),
    "surprise": (196, 150, 240),
    "fear": (108, 204, 190),
    "disgust": (160, 190, 96),
    "neutral": (196, 196, 204),
    "unknown": (130, 136, 150),
}

SKIN = (226, 184, 150)
HAIR = (206, 208, 214)
SHAWL = (96, 58, 70)


class Fonts:
    """pygame's default font in the few sizes the game uses (all >= 20 px)."""

    def __init__(self) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self.hint = pygame.font.Font(None, 24)
        self.small = pygame.font.Font(None, 26)
        self.body = pygame.font.Font(None, 30)
        self.name = pygame.font.Font(None, 34)
        self.heading = pygame.font.Font(None, 44)
        self.title = pygame.font.Font(None, 72)


def wrap(font: pygame.font.Font, text: str, width: int) -> list[str]:
    """Split ``text`` into lines no wider than ``width`` pixels."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            trial = f"{line} {word}".strip()
            if line and font.size(trial)[0] > width:
                lines.append(line)
                line = word
            else:
                line = trial
        lines.append(line)
    return lines


def panel(size: tuple[int, int], edge: tuple[int, int, int] = PANEL_EDGE, opaque: bool = False) -> pygame.Surface:
    """A rounded panel (translucent unless ``opaque``), rendered once and blitted each frame."""
    surface = pygame.Surface(size, pygame.SRCALPHA)
    pygame.draw.rect(surface, PANEL[:3] if opaque else PANEL, surface.get_rect(), border_radius=14)
    pygame.draw.rect(surface, edge, surface.get_rect(), width=2, border_radius=14)
    return surface


def _gradient(top: tuple[int, int, int], bottom: tuple[int, int, int], height: int = HEIGHT) -> pygame.Surface:
    surface = pygame.Surface((WIDTH, height))
    for y in range(height):
        k = y / max(1, height - 1)
        colour = [round(a + (b - a) * k) for a, b in zip(top, bottom)]
        pygame.draw.line(surface, colour, (0, y), (WIDTH, y))
    return surface


def _lighthouse(surface: pygame.Surface, x: int, base_y: int, height: int, lit: bool) -> None:
    top_w, base_w = height * 0.16, height * 0.26
    body = [(x - base_w / 2, base_y), (x + base_w / 2, base_y),
            (x + top_w / 2, base_y - height), (x - top_w / 2, base_y - height)]
    pygame.draw.polygon(surface, (214, 210, 200), body)
    for k in (0.3, 0.62):  # red-brown bands, darker than the indicator's red
        y0, y1 = base_y - height * k, base_y - height * (k + 0.12)
        w0 = base_w + (top_w - base_w) * k
        w1 = base_w + (top_w - base_w) * (k + 0.12)
        band = [(x - w0 / 2, y0), (x + w0 / 2, y0), (x + w1 / 2, y1), (x - w1 / 2, y1)]
        pygame.draw.polygon(surface, (128, 62, 58), band)
    room = pygame.Rect(0, 0, top_w * 1.1, height * 0.14)
    room.midbottom = (x, base_y - height)
    pygame.draw.rect(surface, AMBER if lit else (60, 64, 76), room)
    roof = [(room.left - 6, room.top), (room.right + 6, room.top), (x, room.top - height * 0.08)]
    pygame.draw.polygon(surface, (40, 44, 56), roof)


def _painted(setting: str) -> pygame.Surface:
    rng = random.Random(setting)
    if setting in ("storm", "cliff"):
        surface = _gradient((12, 16, 30), (34, 44, 70))
        pygame.draw.rect(surface, SEA, (0, 360, WIDTH, HEIGHT - 360))
        for _ in range(40):  # wave crests
            x, y = rng.randrange(WIDTH), rng.randrange(368, HEIGHT)
            pygame.draw.arc(surface, (70, 96, 124), (x, y, 40, 12), 0.3, 2.8, 2)
        if setting == "storm":
            pygame.draw.polygon(surface, (40, 40, 48), [(0, 380), (330, 330), (420, 380), (420, HEIGHT), (0, HEIGHT)])
            _lighthouse(surface, 170, 345, 260, lit=True)
            pygame.draw.rect(surface, (255, 214, 140), (160, 305, 22, 40))  # the open door
        else:
            cliff = [(0, 300), (250, 320), (560, 420), (960, 470), (960, HEIGHT), (0, HEIGHT)]
            pygame.draw.polygon(surface, (44, 46, 54), cliff)
            pygame.draw.line(surface, (90, 86, 80), (40, 318), (620, 440), 3)  # the cliff path
            _lighthouse(surface, 90, 306, 170, lit=True)
    elif setting == "dawn":
        surface = _gradient((250, 170, 140), (120, 110, 160))
        pygame.draw.circle(surface, (255, 226, 170), (640, 372), 70)
        pygame.draw.rect(surface, (86, 104, 146), (0, 360, WIDTH, HEIGHT - 360))
        for _ in range(30):
            x, y = rng.randrange(WIDTH), rng.randrange(370, HEIGHT)
            pygame.draw.line(surface, (240, 190, 170), (x, y), (x + rng.randrange(20, 60), y), 2)
        pygame.draw.polygon(surface, (70, 62, 76), [(0, 370), (260, 340), (360, 380), (360, HEIGHT), (0, HEIGHT)])
        _lighthouse(surface, 150, 350, 240, lit=False)
    elif setting == "hearth":
        surface = _gradient((58, 38, 34), (30, 22, 24))
        for y in range(40, 330, 36):  # wooden wall boards
            pygame.draw.line(surface, (72, 48, 40), (0, y), (WIDTH, y), 2)
        pygame.draw.rect(surface, (44, 30, 28), (0, 296, WIDTH, HEIGHT - 296))
        pygame.draw.rect(surface, (96, 92, 96), (60, 110, 250, 186))  # fireplace
        pygame.draw.rect(surface, (20, 14, 14), (96, 160, 178, 136))
        pygame.draw.rect(surface, (120, 116, 118), (44, 98, 282, 18))
        pygame.draw.rect(surface, (22, 30, 52), (420, 110, 120, 140))  # window on the storm
        pygame.draw.rect(surface, (96, 72, 56), (420, 110, 120, 140), 6)
        pygame.draw.line(surface, (96, 72, 56), (480, 110), (480, 250), 4)
        pygame.draw.rect(surface, (110, 74, 50), (380, 276, 200, 14))  # table
        pygame.draw.rect(surface, (200, 196, 186), (420, 262, 22, 14))  # mugs
        pygame.draw.rect(surface, (200, 196, 186), (490, 262, 22, 14))
    elif setting == "stairs":
        surface = _gradient((30, 32, 44), (18, 18, 26))
        for i in range(12):  # the spiral, step by step
            y = 470 - i * 36
            x = 120 + int(140 * math.sin(i * 0.7))
            pygame.draw.rect(surface, (74, 76, 90), (x, y, 150, 12))
            pygame.draw.line(surface, (120, 124, 140), (x, y), (x + 150, y), 2)
        pygame.draw.line(surface, (110, 112, 126), (300, 0), (300, HEIGHT), 6)
        pygame.draw.circle(surface, (96, 92, 100), (470, 160), 78)
        pygame.draw.circle(surface, (14, 24, 44), (470, 160), 66)  # the little window
    else:  # lamp room
        surface = _gradient((14, 20, 40), (30, 40, 66))
        pygame.draw.rect(surface, SEA, (0, 226, WIDTH, 104))  # the sea, far below
        for _ in range(40):
            x, y = rng.randrange(WIDTH), rng.randrange(232, 326)
            pygame.draw.arc(surface, (70, 96, 124), (x, y, 30, 8), 0.3, 2.8, 1)
        for _ in range(30):  # a few stars between the clouds
            surface.set_at((rng.randrange(WIDTH), rng.randrange(8, 200)), (200, 206, 226))
        for x in range(0, WIDTH, 120):  # glass panes
            pygame.draw.line(surface, (70, 80, 104), (x, 0), (x, 330), 4)
        pygame.draw.line(surface, (70, 80, 104), (0, 330), (WIDTH, 330), 6)
        pygame.draw.rect(surface, (50, 54, 66), (0, 336, WIDTH, HEIGHT - 336))
        pygame.draw.rect(surface, (120, 100, 60), (230, 250, 120, 90))  # clockwork housing
        pygame.draw.circle(surface, (160, 140, 90), (290, 292), 28, 4)
    return surface.convert() if pygame.display.get_surface() else surface


class Backdrop:
    """Paints a setting, with its cheap per-frame animation."""

    def __init__(self) -> None:
        self._cache: dict[str, pygame.Surface] = {}
        rng = random.Random(1)
        self._drops = [(rng.randrange(WIDTH), rng.randrange(HEIGHT), rng.uniform(0.8, 1.4)) for _ in range(90)]

    def draw(self, surface: pygame.Surface, setting: str, t: float) -> None:
        if setting not in self._cache:
            self._cache[setting] = _painted(setting)
        surface.blit(self._cache[setting], (0, 0))
        if setting in ("storm", "cliff"):
            self._rain(surface, t, (150, 170, 200))
            self._beam(surface, (170, 92) if setting == "storm" else (90, 121), t, reach=520)
            if setting == "storm" and (t % 9.0) < 0.12:  # a rare flash of lightning
                flash = pygame.Surface((WIDTH, HEIGHT), pygame.SRCALPHA)
                flash.fill((220, 230, 255, 70))
                surface.blit(flash, (0, 0))
        elif setting == "hearth":
            for i in range(5):  # flames
                h = 50 + 22 * math.sin(t * 7 + i * 1.9)
                x = 133 + i * 26
                pygame.draw.polygon(surface, (246, 150, 60), [(x - 14, 294), (x + 14, 294), (x + 2, 294 - h)])
                pygame.draw.polygon(surface, (252, 214, 110), [(x - 7, 294), (x + 7, 294), (x + 1, 294 - h * 0.55)])
            clip = surface.get_clip()
            surface.set_clip(pygame.Rect(426, 116, 108, 128))
            self._rain(surface, t, (90, 110, 150))
            surface.set_clip(clip)
        elif setting == "stairs":
            bob = 6 * math.sin(t * 1.7)
            pygame.draw.circle(surface, (90, 240, 140), (446, int(186 + bob)), 5)  # the boat's green light
        elif setting == "lamp":
            self._beam(surface, (600, 150), t * 1.6, reach=700)
            pygame.draw.circle(surface, (255, 226, 150), (600, 150), 46)
            pygame.draw.circle(surface, AMBER, (600, 150), 46, 6)
            bob = 5 * math.sin(t * 2.1)
            pygame.draw.circle(surface, (90, 240, 140), (130, int(262 + bob)), 5)

    def _rain(self, surface: pygame.Surface, t: float, colour: tuple[int, int, int]) -> None:
        for x0, y0, speed in self._drops:
            y = (y0 + t * 700 * speed) % HEIGHT
            x = (x0 - t * 160 * speed) % WIDTH
            pygame.draw.line(surface, colour, (x, y), (x - 5, y + 14), 1)

    def _beam(self, surface: pygame.Surface, origin: tuple[int, int], t: float, reach: int) -> None:
        angle = t * 0.9
        half = 0.12
        if math.cos(angle) < -0.2:  # pointing away from us: no beam this half turn
            return
        ox, oy = origin
        points = [origin,
                  (ox + reach * math.cos(angle - half) * 1.6, oy + reach * math.sin(angle - half) * 0.18),
                  (ox + reach * math.cos(angle + half) * 1.6, oy + reach * math.sin(angle + half) * 0.18)]
        rects = [pygame.Rect(int(x), int(y), 1, 1) for x, y in points]
        box = rects[0].unionall(rects[1:]).clip(surface.get_rect())
        if box.width < 2 or box.height < 2:
            return
        beam = pygame.Surface(box.size)  # only as big as the beam; added onto the scene, so it lights it
        pygame.draw.polygon(beam, (34, 30, 16), [(x - box.x, y - box.y) for x, y in points])
        core = [points[0], ((points[0][0] + points[1][0] * 2) / 3, (points[0][1] + points[1][1] * 2) / 3),
                ((points[0][0] + points[2][0] * 2) / 3, (points[0][1] + points[2][1] * 2) / 3)]
        pygame.draw.polygon(beam, (70, 62, 34), [(x - box.x, y - box.y) for x, y in core])
        surface.blit(beam, box.topleft, special_flags=pygame.BLEND_RGB_ADD)


def draw_keeper(surface: pygame.Surface, center: tuple[int, int], face: str, t: float) -> None:
    """Maren, the keeper, with one of the story's faces: calm, smile, worried, stern, surprised."""
    cx, cy = center
    cy += int(2 * math.sin(t * 1.5))  # breathing
    shoulders = pygame.Rect(cx - 100, cy + 52, 200, HEIGHT - (cy + 52))
    pygame.draw.rect(surface, SHAWL, shoulders, border_top_left_radius=70, border_top_right_radius=70)
    pygame.draw.polygon(surface, (120, 76, 88), [(cx - 30, cy + 60), (cx + 30, cy + 60), (cx, cy + 110)])  # collar
    pygame.draw.ellipse(surface, HAIR, (cx - 70, cy - 78, 140, 130))  # hair behind the face
    pygame.draw.circle(surface, HAIR, (cx, cy - 84), 26)  # bun
    pygame.draw.ellipse(surface, SKIN, (cx - 54, cy - 56, 108, 124))
    pygame.draw.arc(surface, HAIR, (cx - 58, cy - 70, 116, 70), 0.2, math.pi - 0.2, 14)  # fringe

    blink = (t % 4.0) < 0.12
    eye_y = cy - 2
    for side in (-1, 1):
        ex = cx + side * 22
        if blink:
            pygame.draw.line(surface, (60, 40, 40), (ex - 8, eye_y), (ex + 8, eye_y), 3)
        elif face == "surprised":
            pygame.draw.circle(surface, (255, 255, 255), (ex, eye_y), 10)
            pygame.draw.circle(surface, (50, 40, 40), (ex, eye_y), 5)
        elif face == "smile":
            pygame.draw.arc(surface, (60, 40, 40), (ex - 9, eye_y - 6, 18, 14), 0.2, math.pi - 0.2, 3)
        else:
            pygame.draw.circle(surface, (50, 40, 40), (ex, eye_y), 5)
        # eyebrows carry most of the expression
        brow_y = eye_y - 16
        if face == "stern":
            inner, outer = brow_y + 6, brow_y - 3
        elif face == "worried":
            inner, outer = brow_y - 5, brow_y + 3
        elif face == "surprised":
            inner = outer = brow_y - 8
        else:
            inner = outer = brow_y
        pygame.draw.line(surface, (150, 150, 158), (ex - side * 4, inner), (ex + side * 12, outer), 4)

    pygame.draw.circle(surface, (236, 170, 150), (cx - 32, cy + 20), 9)  # cheeks
    pygame.draw.circle(surface, (236, 170, 150), (cx + 32, cy + 20), 9)
    mouth_y = cy + 34
    lip = (140, 70, 70)
    if face == "smile":
        pygame.draw.arc(surface, lip, (cx - 22, mouth_y - 16, 44, 24), math.pi + 0.3, 2 * math.pi - 0.3, 4)
    elif face == "surprised":
        pygame.draw.ellipse(surface, lip, (cx - 9, mouth_y - 8, 18, 20))
    elif face == "worried":
        pygame.draw.arc(surface, lip, (cx - 18, mouth_y - 2, 36, 18), 0.4, math.pi - 0.4, 3)
    elif face == "stern":
        pygame.draw.line(surface, lip, (cx - 16, mouth_y), (cx + 16, mouth_y), 4)
    else:
        pygame.draw.arc(surface, lip, (cx - 16, mouth_y - 8, 32, 14), math.pi + 0.5, 2 * math.pi - 0.5, 3)
