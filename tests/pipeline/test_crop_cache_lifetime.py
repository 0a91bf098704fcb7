"""The pipeline's per-track crop cache (12x12 thumbnails of the faces last classified) goes with the stream:
zeroed and dropped when a camera is paused and when the worker fails, not kept until the next start.

Real Sensor, detector and model; the thumbnails are caught on the worker thread by ``on_frame``."""

from __future__ import annotations

import threading
import time

import numpy as np

import emoplay
from tests.support import VIDEOS, require_shared
from tests.support.fakes import FailingVideo, poll_until_failure

DEADLINE_S = 60.0  # not a timing: it only keeps a failing test from hanging


class ThumbnailCatcher:
    """on_frame: keeps references to the cache's thumbnails (not copies), so a test sees whether they are zeroed."""

    def __init__(self) -> None:
        self.sensor: emoplay.Sensor | None = None
        self.thumbnails: list[np.ndarray] = []
        self.caught = threading.Event()

    def __call__(self, timestamp: float, result) -> None:
        kept = self.sensor._pipelines.pipeline._reuse._kept.values()
        thumbnails = [k.thumbnail for k in kept if k.thumbnail is not None]
        thumbnails += [thumb for k in kept for _, thumb in k.views.values()]
        if thumbnails and all(t.any() for t in thumbnails):
            self.thumbnails = thumbnails
            self.caught.set()

    def wait(self) -> None:
        assert self.caught.wait(DEADLINE_S), "no face's crop was ever cached"

    def assert_freed(self) -> None:
        assert self.thumbnails and not any(t.any() for t in self.thumbnails), "a face's thumbnail outlived its stream"
        assert self.sensor._pipelines.pipeline._reuse._kept == {}


def test_pausing_a_camera_zeroes_the_cached_crops(happy_and_neutral_frames):
    catcher = ThumbnailCatcher()
    source = emoplay.MemorySource(live=True)  # a camera the host owns: pause() releases it
    sensor = emoplay.Sensor(emoplay.SensorOptions(source=source, on_frame=catcher,
                                                  pipeline=emoplay.PipelineOptions(classify_every=2)))
    catcher.sensor = sensor
    frame = happy_and_neutral_frames["happy"][1]
    with sensor:
        sensor.grant_consent()
        sensor.start()
        deadline, t = time.monotonic() + DEADLINE_S, 0.0
        while not catcher.caught.is_set() and time.monotonic() < deadline:
            sensor.heartbeat()
            noise = np.random.default_rng(int(t * 30)).normal(0, 2, frame.shape)
            sensor.submit(np.clip(frame + noise, 0, 255).astype(np.uint8), t)
            t += 1 / 30
            time.sleep(0.02)
        catcher.wait()
        sensor.pause()
        assert sensor.wait_released(DEADLINE_S)
        catcher.assert_freed()


def test_a_worker_failure_zeroes_the_cached_crops():
    catcher = ThumbnailCatcher()
    video = FailingVideo(require_shared(VIDEOS / "single_face.mp4"), frames=30, error=OSError("decoder crashed"))
    sensor = emoplay.Sensor(emoplay.SensorOptions(source=video, on_frame=catcher,
                                                  pipeline=emoplay.PipelineOptions(classify_every=2)))
    catcher.sensor = sensor
    with sensor:
        sensor.start()
        error, _ = poll_until_failure(sensor, DEADLINE_S)
        assert "decoder crashed" in str(error)
        catcher.wait()
        assert sensor.wait_released(DEADLINE_S)
        catcher.assert_freed()
