"""The example game's loop at 60 fps with the sensor running on a video in its own thread.

Run: python -m pytest benchmarks/test_game_loop.py --benchmark-enable -s
It prints the game's frame-time statistics (fps, frame and work percentiles, late frames)
for the keyboard-only game and for the game driven by talking_smiling.mp4.
"""

from __future__ import annotations

import pytest

from tests.support import VIDEOS, require_module, require_shared

SECONDS = 10.0


@pytest.mark.parametrize("source", ["keyboard", "video"])
def test_game_loop_keeps_60_fps(benchmark, source, tmp_path, monkeypatch):
    require_module("pygame")
    video = None if source == "keyboard" else str(require_shared(VIDEOS / "talking_smiling.mp4"))
    from examples.game_demo.app import run_headless

    monkeypatch.chdir(tmp_path)
    seconds = SECONDS if benchmark.enabled else 1.0
    stats = benchmark.pedantic(run_headless, args=(video, seconds),
                               rounds=1, iterations=1)
    benchmark.extra_info.update({k: stats[k] for k in ("fps", "frame_ms", "work_ms", "late_frames")})
    print(f"\ngame loop ({source}, {seconds:g} s): {stats['fps']:.1f} fps, frame ms p50 {stats['frame_ms']['p50']:.1f} "
          f"p99 {stats['frame_ms']['p99']:.1f}, work ms p50 {stats['work_ms']['p50']:.2f} "
          f"p99 {stats['work_ms']['p99']:.2f}, late frames {stats['late_frames']}")
    assert stats["fps"] > 0
