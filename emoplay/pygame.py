"""Pygame adapter: emoplay events in pygame's queue, and the camera indicator widget.

Importing this module imports pygame and reserves one event type per emoplay
event with ``pygame.event.custom_type()``::

    bridge = PygameEventBridge(sensor)
    indicator = CameraIndicator(sensor)
    while running:
        bridge.pump()                       # emoplay events -> pygame.event queue
        for e in pygame.event.get():
            if e.type == EMOTION_CHANGED:   # e.emoplay is the EmotionChanged dataclass
                ...
        indicator.draw(screen, (16, 16))    # also the heartbeat that keeps the camera allowed to run

Three calls, like any pygame widget: ``process_event(e) -> bool``, ``update(dt)``, ``draw(surface)``.
"""

from __future__ import annotations

import pygame

from ._events import CameraState

EMOTION_CHANGED = pygame.event.custom_type()
FACE_FOUND = pygame.event.custom_type()
FACE_LOST = pygame.event.custom_type()
CAMERA_STATE_CHANGED = pygame.event.custom_type()
PRIMARY_FACE_CHANGED = pygame.event.custom_type()
EVENTS_DROPPED = pygame.event.custom_type()
SENSOR_FAILED = pygame.event.custom_type()
CALIBRATION_PROGRESS = pygame.event.custom_type()
CALIBRATION_FINISHED = pygame.event.custom_type()
CALIBRATION_FAILED = pygame.event.custom_type()
FACE_SIGNAL = pygame.event.custom_type()

EVENT_IDS = {
    "EmotionChanged": EMOTION_CHANGED,
    "FaceFound": FACE_FOUND,
    "FaceLost": FACE_LOST,
    "CameraStateChanged": CAMERA_STATE_CHANGED,
    "PrimaryFaceChanged": PRIMARY_FACE_CHANGED,
    "EventsDropped": EVENTS_DROPPED,
    "SensorFailed": SENSOR_FAILED,
    "CalibrationProgress": CALIBRATION_PROGRESS,
    "CalibrationFinished": CALIBRATION_FINISHED,
    "CalibrationFailed": CALIBRATION_FAILED,
    "FaceSignal": FACE_SIGNAL,
}

# High contrast on light and dark backgrounds: a saturated dot inside a dark pill with white text.
_STATE_STYLE = {
    CameraState.STARTING: ((255, 190, 0), "CAMERA STARTING"),
    CameraState.CAPTURING: ((235, 30, 40), "CAMERA ON"),
    CameraState.PAUSED: ((150, 150, 150), "CAMERA PAUSED"),
    CameraState.ERROR: ((255, 140, 0), "CAMERA ERROR"),
}
INDICATOR_RED = _STATE_STYLE[CameraState.CAPTURING][0]


class PygameEventBridge:
    """Posts each emoplay event as a pygame event (``event.emoplay`` holds the dataclass)."""

    def __init__(self, sensor) -> None:
        self.sensor = sensor

    def pump(self) -> int:
        """Drain the sensor (``sensor.poll()``) into pygame's event queue; returns how many were posted.

        When poll() raises (a worker failure: ``WorkerError``; a callback or log error), the events it
        delivered are still posted (a SENSOR_FAILED among them), and then the error is raised: the game
        decides what to do, nothing is swallowed.
        """
        try:
            events = self.sensor.poll()
        except Exception as e:
            self._post(getattr(e, "events", []))
            raise
        return self._post(events)

    @staticmethod
    def _post(events) -> int:
        posted = 0
        for event in events:  # post() is False when pygame refuses it (the type blocked, the queue full)
            posted += bool(pygame.event.post(pygame.event.Event(EVENT_IDS[type(event).__name__], emoplay=event)))
        return posted

    def process_event(self, event: pygame.event.Event) -> bool:
        """True if ``event`` is an emoplay event (for hosts that route events through widgets)."""
        return event.type in EVENT_IDS.values()

    def update(self, dt: float) -> None:
        self.pump()


class CameraIndicator:
    """Draws the camera state; each draw is the sensor's heartbeat. Draws nothing while the camera is off."""

    def __init__(self, sensor, font_size: int = 22) -> None:
        self.sensor = sensor
        if not pygame.font.get_init():
            pygame.font.init()
        self.font = pygame.font.Font(None, font_size)

    def process_event(self, event: pygame.event.Event) -> bool:
        return False

    def update(self, dt: float) -> None:
        pass

    def draw(self, surface: pygame.Surface, topleft: tuple[int, int] = (12, 12)) -> pygame.Rect:
        self.sensor.heartbeat()
        style = _STATE_STYLE.get(self.sensor.camera_state)
        if style is None:
            return pygame.Rect(topleft, (0, 0))
        colour, label = style
        if not getattr(self.sensor.source, "is_live", True):
            label = label.replace("CAMERA", "VIDEO")  # a file or host frames: say so, with the same colours
        text = self.font.render(label, True, (255, 255, 255))
        pad, dot = 8, 14
        rect = pygame.Rect(topleft, (pad * 3 + dot + text.get_width(), max(text.get_height(), dot) + pad * 2))
        pygame.draw.rect(surface, (20, 20, 24), rect, border_radius=rect.height // 2)
        pygame.draw.rect(surface, colour, rect, width=2, border_radius=rect.height // 2)
        pygame.draw.circle(surface, colour, (rect.x + pad + dot // 2, rect.centery), dot // 2)
        surface.blit(text, (rect.x + pad * 2 + dot, rect.centery - text.get_height() // 2))
        return rect
