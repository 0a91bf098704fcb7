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
from emoplay._sources import EndOfStream, VideoFileSource
from emoplay.calibration import AutoCalibrationOptions

VIDEOS = ("single_face.mp4", "talking_smiling.mp4", "face_then_noface.mov", "noface_then_face.mov")


def emotion_changes(path: Path, options: emoplay.PipelineOptions) -> list[str]:
    source = VideoFileSource(path)
    source.open()
    changes = []
    try:
        with emoplay.EmotionPipeline(options) as pipeline:
            while True:
                frame = source.read(1.0)
                for event in pipeline.process(frame.pixels, frame.timestamp).events:
                    if isinstance(event, emoplay.EmotionChanged):
                        changes.append(f"{event.timestamp:.1f}:{event.current}")
    except EndOfStream:
        return changes
    finally:
        source.close()


def main(argv: list[str]) -> int:
    shared = Path(os.environ.get("EMOPLAY_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    folder = Path(argv[0]) if argv else shared / "data" / "videos"
    runs = {"off": emoplay.PipelineOptions(),
            "auto": emoplay.PipelineOptions(auto_calibration=AutoCalibrationOptions())}
    for name in VIDEOS:
        for label, options in runs.items():
            changes = emotion_changes(folder / name, options)
            print(f"{name:<22} {label:<5} {len(changes):>3} changes  {' '.join(changes)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
