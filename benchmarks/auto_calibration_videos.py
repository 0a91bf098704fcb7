"""How automatic calibration changes the events on the shared videos (the figures in emoplay/calibration/per_track.py).

    python benchmarks/auto_calibration_videos.py [VIDEO_DIR]

Runs every shared video through the real pipeline without calibration, with
``PipelineOptions(auto_calibration=AutoCalibrationOptions())``, and calibrated explicitly on its first
0.6 s (``pipeline.calibrate``, as a game's "relax your face" step would, but shorter: the clips smile
within a second) at calibration strengths 0.5 and 0.75, and prints each run's EmotionChanged sequence
(time: emotion, and the calibration's outcome) and how many changes there were.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import emoplay
from emoplay.calibration import AutoCalibrationOptions, CalibrationOptions

sys.path.insert(0, str(Path(__file__).resolve().parent))
from video_changes import VIDEOS, emotion_changes  # noqa: E402  (the one loop that collects a video's changes)


def main(argv: list[str]) -> int:
    shared = Path(os.environ.get("EMOPLAY_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    folder = Path(argv[0]) if argv else shared / "data" / "videos"
    plain = emoplay.PipelineOptions(stability="responsive")  # the figures' debounce (benchmarks/README.md)
    runs = {"off": (plain, None),
            "auto": (emoplay.PipelineOptions(stability="responsive", auto_calibration=AutoCalibrationOptions()), None),
            "cal@0.5": (plain, CalibrationOptions(seconds=0.6, strength=0.5)),
            "cal@0.75": (plain, CalibrationOptions(seconds=0.6, strength=0.75))}
    for name in VIDEOS:
        for label, (options, calibrate) in runs.items():
            found = emotion_changes(folder / name, options, calibrate)
            changes = sum(not emotion.startswith("calibrat") for _, emotion in found)
            print(f"{name:<22} {label:<8} {changes:>3} changes  {' '.join(f'{t:.1f}:{e}' for t, e in found)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
