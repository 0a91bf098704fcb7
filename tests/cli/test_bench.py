"""``emoplay bench --fast`` runs end to end and reports every figure (CI runs it so the benchmark keeps working).

No timing is asserted: the figures depend on the machine. Only that each one was measured.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emoplay import cli
from emoplay.cli.bench import measurements
from tests.support import write_video

bench = measurements()  # benchmarks/bench.py of this checkout
ROWS, ALL_ROWS, TARGETS, format_table = bench.ROWS, bench.ALL_ROWS, bench.TARGETS, bench.format_table
FACES, RANGES = measurements("bench_ranges").FACES, measurements("bench_ranges").RANGES

# Figures that may legitimately be zero or negative (memory can shrink over a run).
SIGNED = {"soak_rss_slope_mb_per_min"}


@pytest.mark.slow
def test_fast_bench_reports_every_figure_and_target(capsys):
    # --soak 5 instead of --fast's 20 s keeps this test short; the soak code path is the same.
    assert cli.main(["bench", "--json", "--fast", "--soak", "5"]) == 0
    report = json.loads(capsys.readouterr().out)
    results = report["results"]
    assert list(results) == [key for key, _, _ in ALL_ROWS]
    for key, value in results.items():
        assert isinstance(value, (int, float)) and math.isfinite(value), (key, value)
        if key not in SIGNED:
            assert value > 0, (key, value)
    assert set(report["targets"]) == set(TARGETS)
    for key, target in report["targets"].items():
        assert target["op"] == TARGETS[key][0] and target["target"] == TARGETS[key][1]
        assert target["measured"] == results[key]
        assert isinstance(target["met"], bool)
    assert report["all_met"] == all(t["met"] for t in report["targets"].values())
    assert report["info"]["mode"] == "fast"
    assert report["info"]["frames"] and report["info"]["event_latency_frames"]
    assert report["info"]["first_event"].split()[0] in ("FaceFound", "EmotionChanged")
    # every frame of the end-to-end runs had its faces: the one-face and four-face figures are what they say
    faces = report["info"]["faces_detected_per_frame"]
    assert faces["1 face"] >= 0.9 and faces["4 faces"] >= 3.6
    # ... and so do the detector ranges' rows, for every range
    for model_range in RANGES:
        for n in FACES:
            found = faces["detector ranges"][f"range_{model_range}_faces_{n}face{'s' if n > 1 else ''}"]
            assert found >= 0.9 * n, (model_range, n, found)
    assert report["info"]["detector_range"] == "short"
    table = format_table(report)
    assert "end to end, 1 face" in table and "targets met:" in table
    assert "end to end, 8 faces, range=full" in table
    # the stability presets on the shared videos: dialogue changes a talking face's emotion less than responsive
    stability = report["stability"]
    assert list(stability) == ["responsive", "balanced", "dialogue"]
    talking = {preset: entry["videos"]["talking_smiling.mp4"][0] for preset, entry in stability.items()}
    assert talking["dialogue"]["changes"] <= talking["balanced"]["changes"] < talking["responsive"]["changes"]
    assert "stability presets on the shared videos" in table and "talking_smiling.mp4" in table
    # ... and on a minute of her talk (the clip there and back twice), counted per minute
    minute = {preset: entry["videos"]["talking_smiling.mp4 x4 there+back"][0] for preset, entry in stability.items()}
    assert all(face["seconds"] > 60 for face in minute.values())
    assert minute["dialogue"]["per_min"] <= minute["balanced"]["per_min"] < minute["responsive"]["per_min"]
    # dialogue waits longer for a change that follows talk than for a settled face's
    assert results["event_latency_after_talk_ms_max_dialogue"] > results["event_latency_ms_max_dialogue"]


def test_memory_slope_is_a_least_squares_fit_in_mb_per_minute():
    assert bench._slope_per_min([(0.0, 100.0), (30.0, 101.0), (60.0, 102.0)]) == pytest.approx(2.0)
    assert bench._slope_per_min([(0.0, 100.0)]) == 0.0


@pytest.mark.slow
def test_without_shared_data_the_bench_uses_a_sample_photo_and_the_debouncer(monkeypatch, tmp_path):
    import emoplay
    from emoplay._frames import to_rgb_and_gray

    monkeypatch.setenv("EMOPLAY_SHARED", str(tmp_path / "absent"))
    frames, source = bench.bench_frames()
    assert "grace_hopper" in source
    assert all(f.shape == (480, 640, 3) for f in frames) and len(frames) > 1
    assert not np.array_equal(frames[0], frames[1])  # camera-like: no two frames alike
    with emoplay.detection.FaceDetector(emoplay.DetectorOptions(video_mode=False)) as detector:
        assert len(detector.detect(to_rgb_and_gray(frames[0])[0])) == 1
    latency, how = bench.measure_event_latency(bench.BenchSettings(fast=True))
    assert "debouncer" in how
    assert 0 < latency["event_latency_ms_median"] == latency["event_latency_ms_max"]
    dialogue = emoplay.PipelineOptions(stability="dialogue")
    settled, _ = bench.measure_event_latency(bench.BenchSettings(fast=True), dialogue)
    after_talk, how = bench.measure_event_latency(bench.BenchSettings(fast=True), dialogue, after_talk=True)
    assert "debouncer" in how and after_talk["event_latency_ms_max"] > settled["event_latency_ms_max"] > 0


@pytest.mark.parametrize("value", ["nan", "inf", "-1"])
def test_a_soak_that_is_not_a_finite_number_of_seconds_is_a_usage_error(value, capsys):
    from emoplay.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["bench", "--soak", value])
    assert exited.value.code == 2 and "--soak" in capsys.readouterr().err


def test_without_the_repository_bench_says_it_runs_from_a_checkout(tmp_path):
    from emoplay import EmoplayError
    from emoplay.cli.bench import measurements

    with pytest.raises(EmoplayError, match="runs from a repository checkout"):
        measurements(folder=tmp_path / "benchmarks")  # what an installed wheel sees: no benchmarks/


def test_a_video_played_there_and_back_runs_on_without_a_cut(tmp_path):
    """Each pass starts on the frame the last one ended on, and the timestamps keep the video's frame interval."""
    video = write_video(tmp_path / "ramp.mp4", [np.full((48, 64, 3), 20 * k, np.uint8) for k in range(10)], 20.0)
    stability = measurements("stability_measures")
    frames = list(stability.frames_there_and_back(video, 3))
    assert len(frames) == 30
    times = np.array([t for t, _ in frames])
    assert np.allclose(np.diff(times), 1 / 20.0, atol=1e-3)
    levels = [int(pixels.mean()) for _, pixels in frames]
    assert len(set(levels[:10])) == 10 and levels[:10] == sorted(levels[:10])
    assert levels[10:20] == levels[9::-1] and levels[20:] == levels[:10]


def test_a_video_of_one_frame_cannot_be_played_there_and_back(tmp_path):
    video = write_video(tmp_path / "still.mp4", [np.zeros((48, 64, 3), np.uint8)], 20.0)
    with pytest.raises(ValueError, match="fewer than 2 frames"):
        list(measurements("stability_measures").frames_there_and_back(video, 2))
