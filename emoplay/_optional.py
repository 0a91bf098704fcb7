"""Optional dependencies: imported when a feature that needs them is used, with a clear error when absent.

Plots (``emoplay log plot``, ``emoplay eval --plot``) need matplotlib, which is
not a runtime dependency: ``pip install 'emoplay[plot]'`` brings it.
"""

from __future__ import annotations

from ._errors import MissingExtraError

PLOT_EXTRA = "pip install 'emoplay[plot]'"


def matplotlib_figure(purpose: str):
    """matplotlib's ``Figure`` and Agg canvas classes (no pyplot, no global backend change)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise MissingExtraError(f"{purpose} needs matplotlib, which is an optional extra: {PLOT_EXTRA}") from e
    return Figure, FigureCanvasAgg
