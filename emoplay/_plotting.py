"""Plotting: matplotlib, imported when a plot is drawn (with a clear error when absent), and the colour
each emotion has in every plot.

Plots (``emoplay log plot``, ``emoplay eval --plot``, study reports) need matplotlib,
which is not a runtime dependency: ``pip install 'emoplay[plot]'`` brings it.
"""

from __future__ import annotations

from ._errors import MissingExtraError
from ._events import UNKNOWN

PLOT_EXTRA = "pip install 'emoplay[plot]'"

EMOTION_COLOURS = {
    "angry": "#d62728",
    "disgust": "#6b8e23",
    "fear": "#9467bd",
    "happy": "#f2b701",
    "sad": "#1f77b4",
    "surprise": "#ff7f0e",
    "neutral": "#7f7f7f",
    UNKNOWN: "#c7c7c7",
}


def matplotlib_figure(purpose: str):
    """matplotlib's ``Figure`` and Agg canvas classes (no pyplot, no global backend change)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise MissingExtraError(f"{purpose} needs matplotlib, which is an optional extra: {PLOT_EXTRA}") from e
    return Figure, FigureCanvasAgg
