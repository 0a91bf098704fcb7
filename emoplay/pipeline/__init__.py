"""The per-frame path after detection: face crops and the emotion model, skipping unchanged faces, tracking, debouncing, and ``EmotionPipeline`` that runs them all."""

from ._classify import ClassifierOptions, EmotionClassifier, ModelInfo
from ._debounce import STABILITY_PRESETS, DebounceOptions, Debouncer
from ._pipeline import EmotionPipeline, FrameResult, PipelineOptions
from ._track import FaceTracker, TrackerOptions

__all__ = ["STABILITY_PRESETS", "ClassifierOptions", "DebounceOptions", "Debouncer", "EmotionClassifier",
           "EmotionPipeline", "FaceTracker", "FrameResult", "ModelInfo", "PipelineOptions", "TrackerOptions"]
