"""onnxruntime, the one inference engine (face detector and emotion classifier), imported on first use.

onnxruntime (1.2x and later, on Linux too) starts Microsoft's 1DS telemetry when it is imported: it writes a
device id and an SQLite event store under ~/.cache/Microsoft/DeveloperTools and can upload them. The privacy
audit test catches it. The variable must be set before the first ``import onnxruntime``; a host that set it
explicitly keeps its own choice, and ``emoplay doctor`` reports the state.
"""

from __future__ import annotations

import os

TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"


def import_onnxruntime():
    """The onnxruntime module, imported with its telemetry off (unless the host chose otherwise)."""
    os.environ.setdefault(TELEMETRY_ENV, "1")
    import onnxruntime

    return onnxruntime
