"""The example game, headless: story validation, scripted play-throughs to every ending, the camera
indicator on real rendered frames, camera-off, missing camera, logs and a clean exit."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

from tests.support import REPO, require_module  # noqa: E402

pygame = require_module("pygame")

import emoplay  # noqa: E402
import emoplay.sessionlog  # noqa: E402
from examples.game_demo import Game, GameOptions, StoryError, load_story, run_headless  # noqa: E402
from examples.game_demo import audio, story as story_module  # noqa: E402
from examples.game_demo.art import HEIGHT  # noqa: E402
from examples.game_demo.scenes import (CalibrationScene, ConsentScene, EndingScene, PassphraseScene,  # noqa: E402
                                       PauseScene, StoryScene, TitleScene)
from examples.game_demo.sensing import CALIBRATION_WORDS, KEY_EMOTIONS, Reading  # noqa: E402

STORY = load_story()
SHOTS = Path(os.environ.get("GAME_DEMO_SHOTS", "/tmp/game_demo_shots"))
WAIT_S = 30.0  # generous: the sensor runs the real models on a busy machine


# -- helpers ---------------------------------------------------------------------------------------------------
def new_game(**options) -> Game:
    options.setdefault("source", None)
    options.setdefault("mute", True)
    options.setdefault("calibrate", False)  # the "relax your face" step has its own tests
    return Game(GameOptions(**options))


def key(game: Game, k: int, frames: int = 1) -> None:
    """Post a real key press into pygame's queue and run frames so the game handles it."""
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=0, unicode="", scancode=0))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=k, mod=0, unicode="", scancode=0))
    run(game, frames)


def run(game: Game, frames: int, dt: float = 1 / 60) -> None:
    for _ in range(frames):
        game.frame(dt)


def run_until(game: Game, condition, what: str) -> None:
    """Run real-time frames until ``condition()`` (the sensor works in real time on its own thread)."""
    deadline = time.monotonic() + WAIT_S
    last = time.monotonic()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(1 / 60)
        now = time.monotonic()
        game.frame(min(now - last, 0.1))  # game time keeps pace with the sensor's real time
        last = now


def emotion_key(emotion: str) -> int:
    return pygame.K_1 + KEY_EMOTIONS.index(emotion)


def path_to(ending: str) -> list[str]:
    """Emotions that lead from the start scene to ``ending`` (breadth first: the shortest path)."""
    todo = deque([(STORY.start, [])])
    seen = {STORY.start}
    while todo:
        sid, emotions = todo.popleft()
        if sid == ending:
            return emotions
        scene = STORY.scenes[sid]
        for emotion in emoplay.EMOTIONS:
            if not scene.is_ending:
                nxt = scene.respond(emotion).next
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append((nxt, emotions + [emotion]))
    raise AssertionError(f"no path to {ending}")


def answer(game: Game, emotion: str) -> None:
    """Play one story scene with the keyboard: skip the typing, show an emotion, answer, read, continue."""
    scene = game.stack.top
    assert isinstance(scene, StoryScene)
    key(game, pygame.K_SPACE)  # whole text at once; Maren looks at you
    assert scene.phase == "look"
    key(game, emotion_key(emotion))
    key(game, pygame.K_SPACE)  # answer now
    assert scene.phase == "reply" and scene.answer == emotion
    key(game, pygame.K_SPACE)  # whole reply at once
    key(game, pygame.K_SPACE)  # continue


def red_pixels(surface: pygame.Surface, rect: pygame.Rect | None = None) -> int:
    """How many pixels have the camera indicator's red (within a small tolerance)."""
    from emoplay.pygame import INDICATOR_RED

    pixels = pygame.surfarray.array3d(surface).astype(int)  # (w, h, 3)
    if rect is not None:
        pixels = pixels[rect.left:rect.right, rect.top:rect.bottom]
    return int((np.abs(pixels - np.array(INDICATOR_RED)).max(axis=2) <= 12).sum())


def save(game: Game, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pygame.image.save(game.screen, str(SHOTS / f"{name}.png"))


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    """Run with an empty current directory, to see any file the game leaves behind, and a user data folder of
    its own (XDG_DATA_HOME: the game's logs go to its emoplay/game_demo)."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return cwd


def logs_folder(in_tmp: Path) -> Path:
    return in_tmp.parent / "data" / "emoplay" / "game_demo"


@pytest.fixture
def single_face(video):
    return str(video("single_face.mp4"))


# -- the story file --------------------------------------------------------------------------------------------
def test_story_branches_on_each_emotion_and_has_several_endings():
    door = STORY.scenes[STORY.start]
    targets = {e: door.respond(e).next for e in ("happy", "sad", "angry", "surprise", "neutral")}
    assert len(set(targets.values())) == 5, targets
    assert len(STORY.endings) >= 4
    assert set(story_module.MOODS) == set(audio.MOODS)  # every mood a story may name has its music


def test_number_keys_cover_the_seven_emotions():
    assert sorted(KEY_EMOTIONS) == sorted(emoplay.EMOTIONS)


def _raw_story() -> dict:
    import tomllib

    return tomllib.loads(story_module.DEFAULT_STORY.read_text("utf-8"))


@pytest.mark.parametrize("change, scene, field, words", [
    (lambda d: d["scenes"]["door"]["responses"]["happy"].update(next="kitchn"), "door", "responses.happy.next",
     "unknown scene 'kitchn'"),
    (lambda d: d["scenes"]["kitchen"].pop("text"), "kitchen", "text", "missing"),
    (lambda d: d["scenes"]["hearth"]["responses"].update(joy={"reply": "Hi.", "next": "stories"}), "hearth",
     "responses.joy", "unknown emotion 'joy'"),
    (lambda d: d["scenes"]["stairs"]["responses"].pop("default"), "stairs", "responses.default", "missing"),
    (lambda d: d["scenes"]["door"]["responses"]["sad"].pop("reply"), "door", "responses.sad.reply", "missing"),
    (lambda d: d["scenes"]["door"].update(mood="jolly"), "door", "mood", "'jolly' is not one of"),
    (lambda d: d["scenes"]["door"].update(txet="typo"), "door", "txet", "unknown field"),
    (lambda d: d["scenes"]["end_storm"].update(responses={}), "end_storm", "responses", "exactly one of"),
    (lambda d: d.update(start="nowhere"), None, "start", "unknown scene 'nowhere'"),
    (lambda d: d["scenes"].update(island={**d["scenes"]["end_storm"]}), "island", None, "unreachable"),
])
def test_story_errors_name_the_scene_and_field(change, scene, field, words):
    data = _raw_story()
    change(data)
    with pytest.raises(StoryError) as info:
        story_module.parse_story(data, source="story.toml")
    error = info.value
    assert isinstance(error, ValueError)
    assert (error.scene, error.field) == (scene, field)
    assert words in str(error)
    if scene is not None:
        assert f"scene {scene!r}" in str(error)


def test_story_file_errors(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text('title = "x"\n[scenes.door\n', "utf-8")
    with pytest.raises(StoryError, match="broken.toml: not valid toml"):
        load_story(broken)
    with pytest.raises(StoryError, match="cannot read"):
        load_story(tmp_path / "absent.toml")
    as_json = tmp_path / "story.json"
    import json

    as_json.write_text(json.dumps(_raw_story()), "utf-8")
    assert load_story(as_json).scenes.keys() == STORY.scenes.keys()


def test_a_bad_story_stops_the_game_before_a_window_opens(tmp_path, capsys):
    from examples.game_demo import main

    data = copy.deepcopy(_raw_story())
    data["scenes"]["door"]["responses"]["angry"]["next"] = "moon"
    import json

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data), "utf-8")
    assert main(["--keyboard", "--story", str(bad)]) == 2
    assert "scene 'door', field 'responses.angry.next': unknown scene 'moon'" in capsys.readouterr().err


# -- playing with the keyboard ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ending", STORY.endings)
def test_a_scripted_play_through_reaches_each_ending(ending, in_tmp):
    game = new_game()
    try:
        run(game, 2)
        assert isinstance(game.stack.top, TitleScene)
        key(game, pygame.K_RETURN)
        emotions = path_to(ending)
        for emotion in emotions:
            answer(game, emotion)
        top = game.stack.top
        assert isinstance(top, EndingScene) and top.node.id == ending
        assert [e for _, e in game.history] == emotions
        assert ending in game.endings_found
        if ending == STORY.endings[0]:
            save(game, f"ending_{ending}")
        key(game, pygame.K_RETURN)  # play again
        assert isinstance(game.stack.top, StoryScene) and game.stack.top.node.id == STORY.start
    finally:
        game.close()
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_holding_a_key_emotion_answers_by_itself_but_the_default_neutral_never_does():
    game = new_game()
    try:
        key(game, pygame.K_RETURN)
        scene = game.stack.top
        key(game, pygame.K_SPACE)
        run(game, 60 * 10)  # ten seconds of game time: the untouched neutral does not answer
        assert scene.phase == "look"
        key(game, emotion_key("sad"))
        run(game, 60 * 2)
        assert scene.phase == "reply" and scene.answer == "sad"
        assert game.feelings.reading().origin == "simulated"
    finally:
        game.close()


def test_pause_menu_restart_and_quit_leave_nothing_behind(in_tmp):
    game = new_game()
    key(game, pygame.K_RETURN)
    answer(game, "happy")
    key(game, pygame.K_ESCAPE)
    assert isinstance(game.stack.top, PauseScene)
    save(game, "pause_menu")
    key(game, pygame.K_r)  # restart
    assert isinstance(game.stack.top, StoryScene) and game.stack.top.node.id == STORY.start
    key(game, pygame.K_l)  # no sensor: no log, just a message
    assert not game.feelings.log_open and "keyboard mode" in game._toast[0]
    key(game, pygame.K_ESCAPE)
    key(game, pygame.K_q)
    assert not game.running
    game.close()
    game.close()  # idempotent
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_run_headless_reports_frame_times(in_tmp):
    stats = run_headless(None, seconds=1.0)
    assert stats["frames"] >= 30
    assert set(stats["frame_ms"]) == {"mean", "p50", "p90", "p99", "max"}
    assert stats["frame_ms"]["p50"] <= stats["frame_ms"]["p99"] <= stats["frame_ms"]["max"]
    assert stats["fps"] > 0 and stats["source"] is None
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_both_ways_to_launch_it(in_tmp):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "PYTHONPATH": str(REPO)}
    as_module = [sys.executable, "-m", "examples.game_demo"]
    as_script = [sys.executable, str(REPO / "examples" / "game_demo" / "main.py")]
    for command in (as_module, as_script):
        done = subprocess.run([*command, "--keyboard", "--mute", "--max-frames", "30", "--script", "enter 1 space"],
                              cwd=REPO if "-m" in command else in_tmp, env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_the_game_starts_without_a_word_on_the_terminal(in_tmp):
    # With music on, SDL probes the sound system: without a sound card ALSA prints nine "ALSA lib ... cannot
    # find card '0'" lines; and pygame greets on import. Neither is the game's to print.
    env = {key: value for key, value in os.environ.items() if key not in ("SDL_AUDIODRIVER", "PYGAME_HIDE_SUPPORT_PROMPT")}
    env.update(SDL_VIDEODRIVER="dummy", PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-m", "examples.game_demo", "--keyboard", "--max-frames", "30", "--script",
                           "enter"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == "" and done.stdout == ""


@pytest.mark.slow
def test_a_script_with_letters_or_a_bad_token_prints_no_pygame_warning(in_tmp):
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYTHONPATH": str(REPO)}
    game = [sys.executable, "-m", "examples.game_demo", "--keyboard", "--mute", "--max-frames", "30", "--script"]
    played = subprocess.run([*game, "enter k 1 space"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert played.returncode == 0 and played.stderr == ""
    bad = subprocess.run([*game, "enter bogus"], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr == "error: unknown script token 'bogus'\n"
    assert list(in_tmp.iterdir()) == []


# -- music -----------------------------------------------------------------------------------------------------
def test_mood_loops_are_seamless_stereo_and_never_clip():
    for mood in audio.MOODS:
        loop = audio.synthesize(mood, sample_rate=8000)
        assert loop.ndim == 2 and loop.shape[1] == 2 and loop.shape[0] > 8000
        assert np.abs(loop).max() <= 1.0
        step = np.abs(np.diff(loop, axis=0)).max()
        assert np.abs(loop[0] - loop[-1]).max() <= step  # the seam is no bigger than any other step
    with pytest.raises(ValueError, match="unknown mood"):
        audio.synthesize("gloomy")


def test_music_never_raises_with_or_without_an_audio_device():
    music = audio.Music(enabled=True)
    try:
        if not music.available:
            assert music.reason
        music.play("storm")
        music.play("warm")
        deadline = time.monotonic() + WAIT_S
        while music.available and music._pending and time.monotonic() < deadline:
            time.sleep(0.05)  # the loops render on a background thread
            music.update()
        assert music._pending is None or not music.available
        music.set_paused(True)
        music.set_paused(False)
        assert music.mood == "warm"
    finally:
        music.close()
    muted = audio.Music(enabled=False)
    muted.play("calm")
    assert not muted.available and muted.reason == "muted"
    with pytest.raises(ValueError, match="unknown mood"):
        muted.play("gloomy")
    muted.close()


# -- with a real sensor ----------------------------------------------------------------------------------------
@pytest.mark.slow
def test_indicator_is_drawn_while_capturing_and_gone_when_the_camera_is_off(single_face, in_tmp):
    game = new_game(source=single_face)
    try:
        key(game, pygame.K_RETURN)  # a video needs no consent screen; the story starts and so does the sensor
        assert isinstance(game.stack.top, StoryScene)
        run_until(game, lambda: game.feelings.sensor.camera_state is emoplay.CameraState.CAPTURING, "capture")
        rect = game.feelings.draw_indicator(game.screen, (12, 10))
        game.draw(game.screen)
        save(game, "indicator_on")
        assert rect.width > 0 and red_pixels(game.screen, rect) > 20
        run_until(game, lambda: game.feelings.reading().emotion not in (None, "unknown"), "a face's emotion")
        assert game.feelings.reading().origin == "video"
        assert game.feelings.sensor.options.pipeline.debounce_options == emoplay.STABILITY_PRESETS["dialogue"]

        key(game, pygame.K_c)  # camera off: the sensor stops and releases its source
        sensor = game.feelings.sensor
        assert sensor.camera_state is emoplay.CameraState.OFF and not sensor.running
        assert not game.feelings.sensing
        game.draw(game.screen)
        save(game, "indicator_off")
        assert red_pixels(game.screen) == 0
        key(game, emotion_key("angry"))
        assert game.feelings.reading().emotion == "angry" and game.feelings.reading().origin == "simulated"

        key(game, pygame.K_c)  # and on again
        run_until(game, lambda: sensor.camera_state is emoplay.CameraState.CAPTURING, "capture again")
        game.draw(game.screen)
        assert red_pixels(game.screen) > 20
    finally:
        game.close()
    assert game.feelings.sensor.camera_state is emoplay.CameraState.OFF
    assert list(in_tmp.iterdir()) == []


@pytest.mark.slow
def test_the_face_in_the_video_answers_the_keeper(video):
    game = new_game(source=str(video("talking_smiling.mp4")))  # a woman talking, smiling more and more
    try:
        key(game, pygame.K_RETURN)
        scene = game.stack.top
        key(game, pygame.K_SPACE)
        run_until(game, lambda: scene.phase == "reply", "the keeper's answer to the video's face")
        assert scene.answer == "happy"  # her smile, held for CAMERA_HOLD_S, answered for the player
        assert game.history == [(STORY.start, "happy")]
        save(game, "video_answer")
    finally:
        game.close()


def test_pausing_the_game_pauses_capture(single_face):
    game = new_game(source=single_face)
    try:
        key(game, pygame.K_RETURN)
        sensor = game.feelings.sensor
        run_until(game, lambda: sensor.camera_state is emoplay.CameraState.CAPTURING, "capture")
        key(game, pygame.K_p)
        assert isinstance(game.stack.top, PauseScene)
        assert sensor.camera_state is emoplay.CameraState.PAUSED
        assert game.hud_emotion == "camera paused"  # not a simulated "neutral" while nobody is read
        key(game, pygame.K_ESCAPE)
        run_until(game, lambda: sensor.camera_state is emoplay.CameraState.CAPTURING, "capture after the pause")
    finally:
        game.close()


class SlowOpen:
    """Holds the sensor's source in open() until ``let_go()`` (a camera that takes its time), so a start stays in
    flight; counts whether the source is open. ``live=True``: it plays a camera's part (pause() releases it)."""

    LET_GO_S = 5.0  # safety net: the open goes ahead by itself after this long (a game that waits for it, then)

    def __init__(self, source, live: bool = False) -> None:
        self._open, self._close = source.open, source.close
        source.open, source.close = self.open, self.close
        if live:
            source.is_live = True
        self.entered, self.opened, self._gate = threading.Event(), threading.Event(), threading.Event()
        self.is_open = False

    def open(self) -> None:
        self.entered.set()
        self._gate.wait(self.LET_GO_S)
        self._open()
        self.is_open = True
        self.opened.set()

    def close(self) -> None:
        self._close()
        self.is_open = False

    def let_go(self) -> None:
        self._gate.set()


def start_slowly(source: str, live: bool = False) -> tuple[Game, SlowOpen]:
    """A game whose sensor is starting (models loaded) and stuck opening its source."""
    game = new_game(source=source)
    slow = SlowOpen(game.feelings.sensor.source, live=live)
    key(game, pygame.K_RETURN)  # begin: the helper thread starts the sensor
    assert slow.entered.wait(WAIT_S), "the sensor never began to open its source"
    return game, slow


def test_camera_off_while_the_camera_starts_returns_at_once_and_the_camera_ends_released(single_face):
    game, slow = start_slowly(single_face)
    sensor = game.feelings.sensor
    try:
        key(game, pygame.K_c)
        assert not slow.opened.is_set()  # the frame went on while the start was still blocked in open()
        assert not game.feelings.sensing and game.feelings.status == ""
        key(game, emotion_key("angry"))
        assert game.feelings.reading() == Reading("angry", None, "simulated")  # the keys answer at once
        slow.let_go()
        run_until(game, lambda: slow.opened.is_set() and not game.feelings.busy, "the start to end")
        assert sensor.wait_released(WAIT_S) and not slow.is_open  # opened, then released by the sensor at once
        assert sensor.camera_state is emoplay.CameraState.OFF and not sensor.running
        assert sensor.frames_processed == 0 and not game.feelings.problem
        run(game, 5)
        assert game.feelings.reading().origin == "simulated"
    finally:
        slow.let_go()
        game.close()


def test_pausing_while_the_camera_starts_returns_at_once_and_capture_stays_paused(single_face):
    game, slow = start_slowly(single_face, live=True)
    sensor = game.feelings.sensor
    try:
        key(game, pygame.K_ESCAPE)
        assert isinstance(game.stack.top, PauseScene)
        assert not slow.opened.is_set()  # the pause menu is up while the start is still blocked in open()
        assert game.feelings.held and not game.feelings.sensing
        slow.let_go()
        run_until(game, lambda: slow.opened.is_set() and not game.feelings.busy, "the start to end")
        assert sensor.wait_released(WAIT_S) and not slow.is_open  # a camera is released while paused
        assert sensor.camera_state is emoplay.CameraState.PAUSED and sensor.frames_processed == 0
        assert game.feelings.held and game.feelings.status == ""
        key(game, pygame.K_ESCAPE)  # resume: capture starts
        run_until(game, lambda: sensor.camera_state is emoplay.CameraState.CAPTURING, "capture after the pause")
        assert slow.is_open
    finally:
        slow.let_go()
        game.close()


def test_a_missing_camera_is_reported_and_the_keyboard_offered(in_tmp):
    game = new_game(source="/dev/video99")  # a camera that does not exist
    try:
        key(game, pygame.K_RETURN)
        assert isinstance(game.stack.top, ConsentScene)
        assert game.feelings.sensor.camera_state is emoplay.CameraState.OFF  # nothing opens before consent
        save(game, "consent")
        key(game, pygame.K_y)
        assert isinstance(game.stack.top, StoryScene)
        run_until(game, lambda: game.feelings.problem, "the camera error")
        assert "camera is unavailable" in game.feelings.status and "Press K" in game.feelings.status
        save(game, "camera_error")
        key(game, pygame.K_k)
        assert not game.feelings.problem
        key(game, emotion_key("surprise"))
        assert game.feelings.reading().emotion == "surprise"
    finally:
        game.close()
    assert list(in_tmp.iterdir()) == []


def test_only_y_allows_the_camera_enter_answers_nothing_on_the_consent_screen():
    game = new_game(source="/dev/video99")  # a camera: the consent screen comes first
    try:
        key(game, pygame.K_RETURN)
        consent = game.stack.top
        assert isinstance(consent, ConsentScene)
        for k in (pygame.K_RETURN, pygame.K_KP_ENTER, pygame.K_SPACE):  # the title's begin key, once too often
            key(game, k)
            assert game.stack.top is consent
            assert not game.feelings.sensor.has_consent
            assert game.feelings.sensor.camera_state is emoplay.CameraState.OFF and not game.feelings.busy
        assert consent.hints().startswith("Y allow")
        key(game, pygame.K_y)
        assert game.feelings.sensor.has_consent and isinstance(game.stack.top, StoryScene)
    finally:
        game.close()


@pytest.mark.parametrize("no", [pygame.K_n, pygame.K_k, pygame.K_ESCAPE], ids=["N", "K", "Esc"])
def test_declining_consent_keeps_the_camera_closed(no):
    game = new_game(source="/dev/video99")
    try:
        key(game, pygame.K_RETURN)
        key(game, no)
        assert isinstance(game.stack.top, StoryScene)
        assert not game.feelings.sensor.has_consent and not game.feelings.sensor.running
        key(game, pygame.K_c)  # asking for the camera later asks for consent again
        assert isinstance(game.stack.top, ConsentScene)
    finally:
        game.close()


def test_a_missing_video_file_is_reported_not_raised(tmp_path):
    game = new_game(source=str(tmp_path / "nope.mp4"))
    try:
        key(game, pygame.K_RETURN)
        run_until(game, lambda: game.feelings.problem, "the video error")
        assert "video is unavailable" in game.feelings.status
    finally:
        game.close()


# -- the encrypted log -----------------------------------------------------------------------------------------
def test_log_with_a_key_file_writes_one_readable_file(single_face, in_tmp, tmp_path_factory):
    key_file = emoplay.sessionlog.generate_key_file(tmp_path_factory.mktemp("keys") / "game.key")
    game = new_game(source=single_face, log_key_file=key_file)
    try:
        key(game, pygame.K_RETURN)
        key(game, pygame.K_l)
        run_until(game, lambda: game.feelings.log_open, "the log")
        run_until(game, lambda: game.feelings.reading().emotion is not None, "a face")
        key(game, pygame.K_l)  # stop: the log gets its final record
        assert not game.feelings.log_open
        assert game._toast[0] == f"Log saved (encrypted): {game.feelings.log_path}."  # it says where
    finally:
        game.close()
    assert list(in_tmp.iterdir()) == []  # nothing in the current folder: the log is in the user data folder
    files = list(logs_folder(in_tmp).iterdir())
    assert len(files) == 1 and files[0].suffix == ".emolog" and files[0] == game.feelings.log_path
    for folder in (in_tmp.parent / "data", logs_folder(in_tmp).parent, logs_folder(in_tmp)):  # each one it made
        assert folder.stat().st_mode & 0o077 == 0, folder
    log = emoplay.sessionlog.read_session_log(files[0], emoplay.sessionlog.LogKey.from_file(key_file))
    assert log.complete and any(r.type == "FaceFound" for r in log.records)


@pytest.mark.slow
def test_log_with_a_typed_passphrase(single_face, in_tmp):
    game = new_game(source=single_face)
    try:
        key(game, pygame.K_RETURN)
        key(game, pygame.K_l)
        assert isinstance(game.stack.top, PassphraseScene)
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text="short"))
        key(game, pygame.K_RETURN)  # too short: stays open
        assert isinstance(game.stack.top, PassphraseScene) and game.stack.top.error
        pygame.event.post(pygame.event.Event(pygame.TEXTINPUT, text="-and-longer"))
        run(game, 1)
        save(game, "passphrase")
        key(game, pygame.K_RETURN)
        assert isinstance(game.stack.top, StoryScene)
        run_until(game, lambda: game.feelings.log_open, "the log")
        game.draw(game.screen)
    finally:
        game.close()  # closing the game closes the log properly
    files = list(logs_folder(in_tmp).iterdir())
    assert len(files) == 1
    log = emoplay.sessionlog.read_session_log(files[0], emoplay.sessionlog.LogKey.from_passphrase("short-and-longer"))
    assert log.complete


def test_a_log_that_cannot_be_written_is_reported_and_play_goes_on(single_face, tmp_path):
    key_file = emoplay.sessionlog.generate_key_file(tmp_path / "game.key")
    blocker = tmp_path / "a-file"
    blocker.write_text("a file where the log folder should be")
    game = new_game(source=single_face, log_key_file=key_file, log_dir=blocker / "logs")
    try:
        key(game, pygame.K_RETURN)
        key(game, pygame.K_l)
        run_until(game, lambda: "could not start" in game._toast[0], "the log error")
        assert not game.feelings.log_open and game.running
        key(game, pygame.K_k)  # the keyboard from here on
        answer(game, "happy")
    finally:
        game.close()


# -- "relax your face": the calibration step -------------------------------------------------------------------
def frame_folder(tmp_path_factory, name: str, images: list[np.ndarray], frames: int) -> str:
    """An image folder playing ``images`` round and round for ``frames`` frames (symbolic links: cheap)."""
    import cv2

    folder = tmp_path_factory.mktemp(name)
    stills = folder.parent / f"{folder.name}_stills"
    stills.mkdir()
    paths = []
    for i, image in enumerate(images):
        paths.append(stills / f"{i:03d}.png")
        cv2.imwrite(str(paths[-1]), image)
    for i in range(frames):
        (folder / f"{i:05d}.png").symlink_to(paths[i % len(paths)])
    return str(folder)


@pytest.fixture(scope="module")
def relaxed_face(tmp_path_factory):
    """The neutral start of single_face.mp4 (0.13-0.5 s) as a long image-folder stream (~70 s at 30 fps)."""
    from tests.support import VIDEOS, require_shared
    from emoplay.sensor._sources import VideoFileSource

    source = VideoFileSource(require_shared(VIDEOS / "single_face.mp4"))
    source.open()
    try:
        frames = [source.read(1.0) for _ in range(16)]
    finally:
        source.close()
    neutral = [f.pixels.copy() for f in frames if 0.12 < f.timestamp < 0.52]
    return frame_folder(tmp_path_factory, "relaxed", neutral, 2000)


@pytest.fixture(scope="module")
def empty_room(tmp_path_factory):
    return frame_folder(tmp_path_factory, "empty", [np.full((360, 640, 3), 90, np.uint8)], 2000)


@pytest.mark.slow
def test_after_the_title_the_player_relaxes_and_the_keeper_learns_the_face(relaxed_face):
    game = new_game(source=relaxed_face, calibrate=True, calibration_s=1.0)
    try:
        key(game, pygame.K_RETURN)
        scene = game.stack.top
        assert isinstance(scene, CalibrationScene) and "SPACE skip" in scene.hints()
        run_until(game, lambda: scene.state == "collecting" and game.feelings.calibration_progress > 0.3,
                  "the calibration's progress")
        game.draw(game.screen)
        save(game, "calibration_progress")
        run_until(game, lambda: scene.state == "thanks", "the calibration to finish")
        assert game.feelings.calibrated and game.feelings.calibration_progress == 1.0
        profile = game.feelings.sensor.export_calibration()
        assert isinstance(profile, bytes)
        run_until(game, lambda: isinstance(game.stack.top, StoryScene), "the story")

        key(game, pygame.K_ESCAPE)  # the pause menu offers to calibrate again
        menu = game.stack.top
        labels = [label for label, _ in menu.items()]
        again = next(i for i, label in enumerate(labels) if "Relax your face again" in label)
        for _ in range(again):
            key(game, pygame.K_DOWN)
        key(game, pygame.K_RETURN)
        redo = game.stack.top
        assert isinstance(redo, CalibrationScene) and not game.paused
        run_until(game, lambda: redo.state == "thanks", "the second calibration")
        run_until(game, lambda: isinstance(game.stack.top, StoryScene), "back to the story")
        assert game.feelings.calibrated and game.feelings.sensor.export_calibration() != b""
    finally:
        game.close()


@pytest.mark.slow
def test_space_skips_the_calibration_and_nothing_is_calibrated(relaxed_face):
    game = new_game(source=relaxed_face, calibrate=True, calibration_s=1.0)
    try:
        key(game, pygame.K_RETURN)
        scene = game.stack.top
        run_until(game, lambda: scene.state == "collecting", "the calibration to start")
        key(game, pygame.K_SPACE)
        assert isinstance(game.stack.top, StoryScene)
        time.sleep(1.5)  # longer than the calibration would have needed
        run(game, 5)
        assert not game.feelings.calibrated and game.feelings.calibration_result is None
    finally:
        game.close()


@pytest.mark.slow
def test_a_failed_calibration_says_why_and_can_be_skipped(empty_room, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="examples.game_demo.sensing")
    game = new_game(source=empty_room, calibrate=True, calibration_s=1.0)
    try:
        key(game, pygame.K_RETURN)
        scene = game.stack.top
        run_until(game, lambda: scene.state == "failed", "the calibration to fail")  # no face in 5 s of frames
        assert game.feelings.calibration_result == "no_face"
        assert game.feelings.calibration_message == CALIBRATION_WORDS["no_face"]  # words for players, no numbers
        assert "calibration failed (no_face): no face was seen in 5 s" in caplog.text  # emoplay's, for developers
        assert scene.hints() == "R try again    SPACE skip"
        game.draw(game.screen)
        save(game, "calibration_failed")
        key(game, pygame.K_SPACE)
        assert isinstance(game.stack.top, StoryScene) and not game.feelings.calibrated
    finally:
        game.close()


def test_keyboard_mode_and_a_declined_camera_skip_the_calibration():
    game = new_game(source=None, calibrate=True)
    try:
        key(game, pygame.K_RETURN)
        assert isinstance(game.stack.top, StoryScene)
        key(game, pygame.K_ESCAPE)
        assert not any("Relax" in label for label, _ in game.stack.top.items())
    finally:
        game.close()
    game = new_game(source="/dev/video99", calibrate=True)
    try:
        key(game, pygame.K_RETURN)
        key(game, pygame.K_n)  # no camera
        assert isinstance(game.stack.top, StoryScene)
    finally:
        game.close()


def test_the_detector_range_option_reaches_the_sensor(video):
    game = new_game(source=str(video("single_face.mp4")), detector_range="full", detector_tiles=(3, 2))
    try:
        assert game.feelings.sensor.options.pipeline.detector.range == "full"
        assert game.feelings.sensor.options.pipeline.detector.tiles == (3, 2)
    finally:
        game.close()
    from examples.game_demo.app import build_parser, main

    assert build_parser().parse_args(["--detector-range", "auto"]).detector_range == "auto"
    assert build_parser().parse_args([]).detector_range == "short"
    assert build_parser().parse_args(["--detector-tiles", "4x2"]).detector_tiles == (4, 2)
    assert build_parser().parse_args([]).detector_tiles == "off"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--detector-tiles", "many"])
    assert main(["--keyboard", "--detector-tiles", "auto", "--max-frames", "1"]) == 2  # tiles need full range


# -- text stays inside its panels; messages cover no panel -------------------------------------------------------
PANEL_MARGIN = 8  # text keeps this far inside a panel's edge (the border is 2 px)


def overflowing_text(scene) -> list[str]:
    """The text lines of the scene's latest drawing that are not inside one of its panels (with the margin)."""
    inner = [panel.inflate(-2 * PANEL_MARGIN, -2 * PANEL_MARGIN) for panel in scene.layout.panels]
    return [f"{words!r} at {rect} not inside any of {scene.layout.panels}"
            for words, rect in scene.layout.texts if not any(box.contains(rect) for box in inner)]


def check_layout(game: Game, name: str) -> None:
    """Draw the frame with the longest message the game shows; every text line inside its panel, the message over
    no panel of the top scene, and each key named once on the key strip."""
    game.toast("Camera off and released. Keys 1-7 set your expression (simulated).")
    game.draw(game.screen)
    top = game.stack.top
    assert top.layout.texts, f"{name}: the scene drew no text"
    assert overflowing_text(top) == [], name
    assert game.banner_rect is not None and game.banner_rect.collidelist(top.layout.panels) < 0, name
    assert game.banner_rect.bottom <= HEIGHT - 40 and game.banner_rect.top >= 42, name  # clear of the HUD rows
    words = game.footer.split()
    assert words and len(words) == len(set(words)), f"{name}: key strip {game.footer!r}"


def test_no_text_runs_past_its_panel_and_messages_cover_no_panel():
    from emoplay import CalibrationFailed
    from emoplay._events import CALIBRATION_FAILURES

    from examples.game_demo.scenes import PAUSE_MARGIN

    game = new_game()
    try:
        check_layout(game, "title")
        game.stack.push(ConsentScene(game, then=lambda: None))
        check_layout(game, "consent")
        game.stack.pop()
        calibration = CalibrationScene(game, then=lambda: None)
        game.stack.push(calibration)
        for state in ("waiting", "thanks"):
            calibration.state = state
            check_layout(game, f"calibration {state}")
        for reason in CALIBRATION_FAILURES:  # the player's words for each way it fails
            game.feelings.on_sensor_event(CalibrationFailed(reason, "measured details for developers", 1.0))
            assert "instability" not in game.feelings.calibration_message
            calibration.state = "collecting"
            game.feelings.calibration_result = reason
            game.stack.update(0.0)
            assert calibration.state == "failed"
            check_layout(game, f"calibration failed: {reason}")
        game.stack.pop()
        for node in STORY.scenes.values():  # every line of the story, in every phase, fits the dialogue panel
            if node.is_ending:
                game.history[:] = [("", emotion) for emotion in path_to(node.id)]  # the path it lists
                game.stack.push(EndingScene(game, node.id))
                check_layout(game, f"ending {node.id}")
                game.stack.pop()
                continue
            scene = StoryScene(game, node.id)
            game.stack.push(scene)
            scene.phase = "look"
            check_layout(game, f"{node.id} look")
            for emotion in KEY_EMOTIONS:
                scene.answer_with(emotion)
                scene.chars = scene.reply.length
                check_layout(game, f"{node.id} reply to {emotion}")
            game.stack.pop()
        game.stack.push(StoryScene(game, STORY.start))
        game.stack.push(PauseScene(game))
        check_layout(game, "pause")
        game.stack.pop()
        passphrase = PassphraseScene(game)
        game.stack.push(passphrase)
        passphrase.passphrase, passphrase.error = "x" * 80, "At least 8 characters, please."
        check_layout(game, "passphrase")
        game.stack.pop()
    finally:
        game.close()
    # The pause menu with all its items: a sensor that would start on resume (it never does here).
    game = new_game(source=str(REPO / "missing_video.mp4"))
    try:
        game.stack.push(StoryScene(game, STORY.start))
        menu = PauseScene(game)
        game.stack.push(menu)
        game.feelings.start_on_unhold()
        labels = [label for label, _ in menu.items()]
        assert "Relax your face again (calibrate)" in labels
        check_layout(game, "pause with the camera")
        widest = max(rect.width for words, rect in menu.layout.texts if words in labels)
        assert menu.layout.panels[0].width >= widest + 2 * PAUSE_MARGIN
        save(game, "pause_menu")
        game.feelings.camera_off()
    finally:
        game.close()
