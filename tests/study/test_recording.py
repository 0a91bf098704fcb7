"""The pieces between the sensor and the log: the media-time playhead, the frame tap, the runner's refusals."""

from __future__ import annotations

import dataclasses

import pytest

import emoplay
import emoplay.sessionlog
from tests.support import VIDEOS, require_shared
from emoplay.study import RunOptions, load_study, run_study
from emoplay.study.recording import FrameTap, Playhead


def test_the_playhead_stops_during_pauses_and_at_its_limit():
    head = Playhead()
    assert head.media_time(5.0) is None
    head.start(10.0)
    assert head.media_time(9.9) is None and head.media_time(10.5) == pytest.approx(0.5)
    head.pause(11.0)
    assert head.media_time(12.0) is None and head.now(12.0) == pytest.approx(1.0)  # held on screen
    head.resume(14.0)
    assert head.media_time(14.25) == pytest.approx(1.25)  # continues where it paused
    assert head.stop(20.0, limit=2.0) == pytest.approx(15.0)  # media time 2.0 was reached at clock 15.0
    assert head.media_time(14.99) == pytest.approx(1.99) and head.media_time(15.0) is None


@pytest.mark.slow
def test_the_tap_gets_every_processed_frame_and_only_the_primary_face(video):
    tap = FrameTap()
    with emoplay.Sensor(source=str(video("single_face.mp4")), on_frame=tap) as sensor:
        sensor.start()
        while sensor.running:
            sensor.poll()
        sensor.poll()
        samples = tap.drain()
        assert len(samples) == sensor.frames_processed > 50
    assert [s.timestamp for s in samples] == sorted(s.timestamp for s in samples)
    with_face = [s for s in samples if s.probabilities is not None]
    assert len(with_face) > len(samples) // 2
    for s in with_face:
        assert s.track is not None and len(s.probabilities) == 7 and abs(sum(s.probabilities) - 1) < 1e-4
    # The man is neutral, then smiles broadly from about 0.8 s: the tap carries that change.
    happy = emoplay.EMOTIONS.index("happy")
    smiling = max(s.probabilities[happy] for s in with_face if s.timestamp > 0.8)
    assert smiling > 0.6 and with_face[0].probabilities[happy] < smiling - 0.3


def _post(key_name: str):
    import pygame

    def on_tick(state):
        if state.screen == "consent":
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=getattr(pygame, key_name), mod=0))
    return on_tick


def test_declining_consent_records_nothing(study_dir, tmp_path):
    spec = load_study(study_dir / "study.toml")
    log = tmp_path / "p.emolog"
    result = run_study(spec, RunOptions(participant="P1", group="50+", log_path=log, window_size=(320, 180),
                                        source=str(require_shared(VIDEOS / "single_face.mp4")),
                                        on_tick=_post("K_q")), emoplay.sessionlog.LogKey.from_bytes(bytes(32)))
    assert not result.consented and result.log_path is None
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("options, message", [
    ({"group": "teens"}, "--group 'teens' is not one of the study's groups"),
    ({"participant": ""}, "--participant must be a non-empty"),
    ({"source": "camera", "autoplay": True}, "--autoplay advances the consent screen by itself"),
    ({"log_path": "existing"}, "already exists"),
    ({"source": "participnt.mp4"}, "participnt.mp4 does not exist; check the path"),
    ({"stability": "calm"}, "--stability 'calm' is not a preset; choose one of responsive, balanced, dialogue"),
    ({"detector_range": "far"}, "--detector-range 'far' is not one of short, full, auto"),
    ({"detector_tiles": "auto"}, "--detector-tiles: DetectorOptions.tiles runs the full-range model on tiles"),
    ({"detector_range": "full", "detector_tiles": (0, 2)}, "cols must be a whole number from 1 to 8"),
])
def test_the_runner_refuses_bad_options_before_opening_anything(study_dir, tmp_path, options, message):
    spec = load_study(study_dir / "study.toml")
    (tmp_path / "existing").write_text("keep me")
    values = {"participant": "P1", "group": "50+", "log_path": tmp_path / "p.emolog", "source": "video.mp4"}
    values.update(options)
    if values["log_path"] == "existing":
        values["log_path"] = tmp_path / "existing"
    with pytest.raises(emoplay.StudyError, match=message):
        run_study(spec, RunOptions(**values), emoplay.sessionlog.LogKey.from_bytes(bytes(32)))
    assert (tmp_path / "existing").read_text() == "keep me" and not (tmp_path / "p.emolog").exists()


def test_a_study_open_to_any_group_refuses_the_pooled_group_all(study_dir, tmp_path):
    spec = dataclasses.replace(load_study(study_dir / "study.toml"), groups=())  # any --group is allowed
    with pytest.raises(emoplay.StudyError, match="--group 'all' is reserved: the report uses it for all participants"):
        run_study(spec, RunOptions(participant="P1", group="all", log_path=tmp_path / "p.emolog",
                                   source=str(require_shared(VIDEOS / "single_face.mp4")), window_size=(320, 180),
                                   on_tick=_post("K_q")),
                  emoplay.sessionlog.LogKey.from_bytes(bytes(32)))
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_participant_video_fails_before_the_window_opens(study_dir, tmp_path):
    spec = load_study(study_dir / "study.toml")
    fake = tmp_path / "participant.mp4"
    fake.write_bytes(b"not a video at all" * 100)
    with pytest.raises(emoplay.StudyError, match="cannot decode"):
        run_study(spec, RunOptions(participant="P1", group="50+", log_path=tmp_path / "p.emolog", source=str(fake)),
                  emoplay.sessionlog.LogKey.from_bytes(bytes(32)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["participant.mp4"]
