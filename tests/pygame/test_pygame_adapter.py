"""The Pygame adapter on a real (headless) Pygame surface."""

from __future__ import annotations

import time

import numpy as np
import pytest

import emoplay
from emoplay.sensor._sources import MemorySource

from tests.support import require_module

pygame = require_module("pygame")


@pytest.fixture
def screen():
    pygame.display.init()
    pygame.font.init()
    surface = pygame.display.set_mode((320, 120))
    yield surface
    pygame.display.quit()


def red_pixels(surface) -> int:
    from emoplay.pygame import INDICATOR_RED

    pixels = pygame.surfarray.array3d(surface).reshape(-1, 3).astype(int)
    return int((np.abs(pixels - np.array(INDICATOR_RED)).sum(axis=1) < 30).sum())


def test_indicator_is_drawn_only_while_capturing_and_keeps_capture_alive(screen):
    from emoplay.pygame import CameraIndicator

    clock = emoplay.ManualClock(0.0)
    source = MemorySource(live=True)
    sensor = emoplay.Sensor(emoplay.SensorOptions(source=source, clock=clock, indicator_timeout_s=1.0))
    indicator = CameraIndicator(sensor)
    screen.fill((0, 0, 0))
    assert indicator.draw(screen).width == 0 and red_pixels(screen) == 0  # off: nothing drawn
    sensor.grant_consent()
    sensor.start()
    for _ in range(30):  # 3 s of a game that draws the indicator every 0.1 s
        clock.advance(0.1)
        screen.fill((0, 0, 0))
        rect = indicator.draw(screen, (10, 10))
        time.sleep(0.005)
    assert sensor.camera_state is emoplay.CameraState.CAPTURING
    assert red_pixels(screen) > 50 and rect.width > 60
    clock.advance(1.5)  # the game stops drawing it
    deadline = time.monotonic() + 10
    while sensor.camera_state is not emoplay.CameraState.PAUSED and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sensor.camera_state is emoplay.CameraState.PAUSED
    sensor.close()
    screen.fill((0, 0, 0))
    indicator.draw(screen)
    assert red_pixels(screen) == 0


def test_bridge_posts_emoplay_events_into_the_pygame_queue(screen, video):
    from emoplay.pygame import CAMERA_STATE_CHANGED, EMOTION_CHANGED, FACE_FOUND, FACE_LOST, PygameEventBridge

    with emoplay.Sensor(source=str(video("single_face.mp4"))) as sensor:
        bridge = PygameEventBridge(sensor)
        sensor.start()
        got = []
        deadline = time.monotonic() + 30
        while (sensor.running or not got) and time.monotonic() < deadline:
            bridge.pump()
            got += [e for e in pygame.event.get() if bridge.process_event(e)]
            time.sleep(0.005)
        bridge.pump()
        got += [e for e in pygame.event.get() if bridge.process_event(e)]
    types = [e.type for e in got]
    assert CAMERA_STATE_CHANGED in types and FACE_FOUND in types and EMOTION_CHANGED in types
    emotions = [e.emoplay.current for e in got if e.type == EMOTION_CHANGED]
    assert emotions[-1] == "happy"
    carries = {CAMERA_STATE_CHANGED: emoplay.CameraStateChanged, FACE_FOUND: emoplay.FaceFound,
               EMOTION_CHANGED: emoplay.EmotionChanged, FACE_LOST: emoplay.FaceLost}
    assert FACE_LOST in types and all(isinstance(e.emoplay, carries[e.type]) for e in got if e.type in carries)


def test_pump_counts_only_the_events_pygame_accepted(screen, video):
    from emoplay.pygame import CAMERA_STATE_CHANGED, PygameEventBridge

    from emoplay._events import EVENT_TYPES

    with emoplay.Sensor(source=str(video("single_face.mp4"))) as sensor:
        bridge = PygameEventBridge(sensor)
        polled = []  # every event the bridge's poll() delivered, refused by pygame or not
        for name in EVENT_TYPES:
            sensor.subscribe(name, lambda event: polled.append(event))
        pygame.event.set_blocked(CAMERA_STATE_CHANGED)  # the host does not want these: post() refuses them
        try:
            sensor.start()  # starting, capturing: two CameraStateChanged queued, and nothing else yet or soon
            posted = bridge.pump()
            arrived = [e for e in pygame.event.get() if bridge.process_event(e)]
        finally:
            pygame.event.set_allowed(CAMERA_STATE_CHANGED)
    refused = [e for e in polled if isinstance(e, emoplay.CameraStateChanged)]
    assert len(refused) >= 2  # there were events to refuse
    assert posted == len(arrived) == len(polled) - len(refused)
