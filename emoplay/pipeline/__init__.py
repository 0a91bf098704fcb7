"""The per-frame path after detection: face crops and the emotion model, skipping unchanged faces, tracking, debouncing, and ``EmotionPipeline`` that runs them all."""
