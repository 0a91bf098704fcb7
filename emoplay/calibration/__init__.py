"""Per-player calibration: a baseline of the player's relaxed face, taken out of every frame.

``baseline.py`` holds the math, ``calibrator.py`` collects a few seconds of a face,
``profile.py`` turns a baseline into opaque bytes and back, ``state.py`` is what the
pipeline runs per frame, ``per_subject.py`` is the evaluation (``emoplay eval
--calibration per-subject``) through the same :class:`Baseline`.
"""

from __future__ import annotations

from .baseline import DEFAULT_STRENGTH, Baseline
from .calibrator import CalibrationOptions, Calibrator
from .profile import export_profile, import_profile
from .state import AutoCalibrationOptions, CalibrationState

__all__ = ["AutoCalibrationOptions", "Baseline", "CalibrationOptions", "CalibrationState", "Calibrator",
           "DEFAULT_STRENGTH", "export_profile", "import_profile"]
