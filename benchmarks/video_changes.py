"""How often the debounced emotion changes on real videos, for one or more model files.

    python benchmarks/video_changes.py models/emotion_cnn.onnx runs/other.onnx [--videos DIR]

Each shared video is run through ``EmotionPipeline`` with the given model (the ``responsive`` stability
preset, whose events follow the model most closely; all other options the defaults) and the ``EmotionChanged`` events are printed with their stream times: the model card's
"a sustained smile gives at most three emotion changes" check, and how much a talking face flickers.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from emoplay import CalibrationFailed, CalibrationFinished, ClassifierOptions, EmotionChanged, PipelineOptions
from stability_measures import video_results
from emoplay.pipeline import EmotionPipeline

VIDEOS = ("single_face.mp4", "talking_smiling.mp4", "face_then_noface.mov", "noface_then_face.mov")


def emotion_changes(video: Path, options: PipelineOptions, calibrate=None) -> list[tuple[float, str]]:
    """(stream time, new emotion) of every ``EmotionChanged`` of ``video`` through a pipeline with ``options``;
    ``calibrate`` (CalibrationOptions): calibrate the primary face from the first frame on; its outcome is listed
    too, as "calibrated" or "calibration failed: REASON"."""
    found = []
    with EmotionPipeline(options) as pipeline:
        if calibrate is not None:
            pipeline.calibrate(options=calibrate)
        for _, result in video_results(video, pipeline):
            for event in result.events:
                if isinstance(event, EmotionChanged):
                    found.append((event.timestamp, event.current))
                elif isinstance(event, CalibrationFinished):
                    found.append((event.timestamp, "calibrated"))
                elif isinstance(event, CalibrationFailed):
                    found.append((event.timestamp, f"calibration failed: {event.reason}"))
    return found


def changes(model: Path, video: Path) -> list[tuple[float, str]]:
    """The emotion changes of ``video`` with the model file ``model`` and every other option the default."""
    options = PipelineOptions(classifier=ClassifierOptions(model_path=str(model)), stability="responsive")
    return [(round(t, 2), emotion) for t, emotion in emotion_changes(video, options)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--videos", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" / "videos")
    args = parser.parse_args(argv)
    for video in VIDEOS:
        for model in args.models:
            found = changes(model, args.videos / video)
            print(f"{video} {model}: {len(found)} changes: " + ", ".join(f"{t:g} s {e}" for t, e in found))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
