"""Video sources under damage and in real time: real files from the shared data,
made corrupt in the middle at several offsets; pacing checked on an injected clock."""

from __future__ import annotations

import pytest

from emoplay import CameraState, EndOfStream, ManualClock, Sensor, VideoFileSource, VideoReadError

from tests.support.fakes import poll_until_failure
from tests.support.mp4 import index_first


def read_all(source, limit: int) -> int:
    """Frames read until EndOfStream (returned) or an error (raised); ``limit`` stops an endless replay."""
    source.open()
    try:
        for n in range(limit):
            if source.read(1.0) is None:
                continue
        raise AssertionError(f"still delivering frames after {limit} reads: the video replays for ever")
    except EndOfStream:
        return n
    finally:
        source.close()


@pytest.fixture
def index_first_clip(video, tmp_path):
    """single_face.mp4 (72 frames) with its index moved to the front: damage after it leaves the file openable."""
    data = index_first(video("single_face.mp4"))
    path = tmp_path / "whole.mp4"
    path.write_bytes(data)
    return data, path


def test_the_rewritten_clip_is_whole_and_ends_normally(index_first_clip):
    _, path = index_first_clip
    assert read_all(VideoFileSource(path), 1000) == 72


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.85])
@pytest.mark.parametrize("loop", [False, True])
def test_a_video_cut_short_in_the_middle_is_an_error_not_an_end(index_first_clip, tmp_path, fraction, loop):
    data, _ = index_first_clip
    path = tmp_path / f"cut_{fraction}.mp4"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(VideoReadError, match=r"cut_.*stopped decoding at frame \d+ of 72"):
        read_all(VideoFileSource(path, loop=loop), 1000)


@pytest.mark.parametrize("fraction, lost", [(0.99, 6), (0.985, 9)])
def test_a_long_video_cut_short_by_a_few_frames_is_an_error(video, tmp_path, fraction, lost):
    """talking_smiling.mp4 has 464 frames: losing 6 or 9 of them (under 2 %) is reported, not taken for the end."""
    data = index_first(video("talking_smiling.mp4"))
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(VideoReadError, match=f"stopped decoding at frame {464 - lost} of 464"):
        read_all(VideoFileSource(path), 1000)


@pytest.mark.parametrize("fraction", [0.4, 0.7])
def test_a_video_with_zeroed_bytes_in_the_middle_is_an_error(index_first_clip, tmp_path, fraction):
    data, _ = index_first_clip
    damaged = bytearray(data)
    at = int(len(data) * fraction)
    damaged[at:at + 20_000] = bytes(20_000)
    path = tmp_path / "zeroed.mp4"
    path.write_bytes(bytes(damaged))
    with pytest.raises(VideoReadError, match="corrupt in the middle"):
        read_all(VideoFileSource(path, loop=True), 1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["single_face.mp4", "no_face_animation.mp4", "face_then_noface.mov",
                                  "noface_then_face.mov"])
def test_intact_shared_videos_still_end_normally(video, name):
    assert read_all(VideoFileSource(video(name)), 10_000) > 0


def test_a_corrupt_video_fails_the_sensor_like_an_undecodable_image(index_first_clip, tmp_path):
    data, _ = index_first_clip
    path = tmp_path / "cut.mp4"
    path.write_bytes(data[: int(len(data) * 0.6)])
    with Sensor(source=str(path)) as sensor:
        sensor.start()
        error, _ = poll_until_failure(sensor)
        assert "stopped decoding" in str(error) and sensor.camera_state is CameraState.ERROR
        assert isinstance(error.__cause__, VideoReadError)


# -- realtime pacing -----------------------------------------------------------------------------------------------

def deliveries(source: VideoFileSource, clock: ManualClock, count: int) -> list[tuple[float, float]]:
    """(clock time of delivery, frame timestamp) for the next ``count`` frames, polling as the sensor does."""
    out = []
    while len(out) < count:
        frame = source.read(0.02)
        if frame is not None:
            out.append((clock(), frame.timestamp))
    return out


def test_realtime_plays_at_the_files_rate_never_early(video):
    clock = ManualClock(1000.0)
    source = VideoFileSource(video("single_face.mp4"), realtime=True, clock=clock, sleep=clock.advance)
    source.open()
    got = deliveries(source, clock, 72)
    source.close()
    start = got[0][0]
    assert all(at - start == pytest.approx(ts, abs=1e-9) for at, ts in got)  # each frame at its own time
    assert got[-1][0] - start == pytest.approx(71 / 30)  # a 2.4 s clip takes 2.37 s to the last frame


def test_realtime_does_not_burst_after_a_pause(video):
    clock = ManualClock(0.0)
    source = VideoFileSource(video("single_face.mp4"), realtime=True, clock=clock, sleep=clock.advance)
    source.open()
    deliveries(source, clock, 20)
    clock.advance(10.0)  # paused (the sensor stopped reading) for 10 s
    after = deliveries(source, clock, 20)
    source.close()
    gaps = [b[0] - a[0] for a, b in zip(after, after[1:])]
    assert all(g == pytest.approx(1 / 30, abs=1e-9) for g in gaps), f"burst after resume: {gaps}"
    assert [ts for _, ts in after] == pytest.approx([(20 + k) / 30 for k in range(20)])  # no frame skipped
