"""How automatic calibration changes the events on the shared videos (the figures in emoplay/calibration/state.py).

    python benchmarks/auto_calibration_videos.py [VIDEO_DIR]

Runs every shared video through the real pipeline twice, without and with
``PipelineOptions(auto_calibration=AutoCalibrationOptions())``, and prints each run's EmotionChanged
sequence (time: emotion) and how many there were.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import emoplay
from emoplay.calibration import AutoCalibrationOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_changes import VIDEOS, emotion_changes  # noqa: E402  (the one loop that collects a video's changes)


def main(argv: list[str]) -> int:
    shared = Path(os.environ.get("EMOPLAY_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    folder = Path(argv[0]) if argv else shared / "data" / "videos"
    runs = {"off": emoplay.PipelineOptions(),
            "auto": emoplay.PipelineOptions(auto_calibration=AutoCalibrationOptions())}
    for name in VIDEOS:
        for label, options in runs.items():
            changes = [f"{t:.1f}:{emotion}" for t, emotion in emotion_changes(folder / name, options)]
            print(f"{name:<22} {label:<5} {len(changes):>3} changes  {' '.join(changes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
