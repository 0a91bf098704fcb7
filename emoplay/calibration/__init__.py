"""Per-player calibration: a baseline of the player's relaxed face, taken out of every frame.

``baseline.py`` holds the math, ``calibrator.py`` collects a few seconds of a face,
``profile.py`` turns a baseline into opaque bytes and back, ``per_track.py`` is what the
pipeline runs per frame (the primary face's explicit baseline, automatic baselines per
track). The evaluation through the same :class:`Baseline` (``emoplay eval --calibration
per-subject``) is ``emoplay.evaluation.per_subject``.
"""

from __future__ import annotations

from .baseline import DEFAULT_STRENGTH, Baseline
from .calibrator import CalibrationOptions, Calibrator
from .profile import export_profile, import_profile
from .per_track import AutoCalibrationOptions, CalibrationState

__all__ = ["AutoCalibrationOptions", "Baseline", "CalibrationOptions", "CalibrationState", "Calibrator",
           "DEFAULT_STRENGTH", "export_profile", "import_profile"]
