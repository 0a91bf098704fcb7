"""The report's figures, drawn with matplotlib's object-oriented API on the Agg canvas (no pyplot, no GUI).

Each figure says in its own title and axis labels what it shows, so it can be read without the report's text.
matplotlib is imported only here, when a report is drawn.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._plotting import EMOTION_COLOURS, matplotlib_figure
from .._events import EMOTIONS
from .aggregate import ALL, DominantGrid, Shares, Timeline

COLOURS = {e: EMOTION_COLOURS[e] for e in EMOTIONS}  # the colours of `emoplay log plot`
NO_FACE = "#eeeeee"
GROUP_COLOURS = ("#222222", "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d")
DPI = 100


def _figure(width: float, height: float):
    Figure, FigureCanvasAgg = matplotlib_figure("emoplay study report's plots (--no-plots writes the tables only)")
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    # No metadata: the PNG holds the picture and nothing about the machine or the time it was made.
    fig.savefig(path, format="png", metadata={"Software": None})
    return path


def _group_colour(groups: list[str], group: str) -> str:
    return GROUP_COLOURS[groups.index(group) % len(GROUP_COLOURS)]


def bin_middles(line: Timeline, duration: float) -> np.ndarray:
    """Where each bin's point goes: the middle of the part of the bin inside the video (the last bin is
    usually cut short by the video's end; its point must not lie past it). ``duration`` 0: unknown."""
    ends = line.bin_start + line.bin_width
    if duration > 0:
        ends = np.maximum(np.minimum(ends, duration), line.bin_start)
    return (line.bin_start + ends) / 2


def timelines_png(lines: list[Timeline], title: str, duration: float, path: Path) -> Path:
    """One panel per emotion: the mean probability over media time, a band of ± 1 SEM, one line per group."""
    fig = _figure(12, 6.2)
    axes = fig.subplots(2, 4, sharex=True, sharey=True).ravel()
    groups = [t.group for t in lines]
    participants = int(max((t.n.max() for t in lines if t.group in (ALL, groups[0])), default=0))
    fig.suptitle(f"{title}: how likely each expression was over the video\n"
                 f"line = mean across participants, band = ± 1 standard error of the mean "
                 f"(up to {participants} participants)", fontsize=11)
    for k, (ax, emotion) in enumerate(zip(axes, EMOTIONS)):
        for t in lines:
            x = bin_middles(t, duration)
            colour = _group_colour(groups, t.group) if len(lines) > 1 else COLOURS[emotion]
            label = "all participants" if t.group == ALL else f"group {t.group}"
            ax.plot(x, t.mean[:, k], color=colour, lw=2 if t.group == ALL else 1.4, label=label, marker=".")
            ax.fill_between(x, t.mean[:, k] - t.sem[:, k], t.mean[:, k] + t.sem[:, k], color=colour, alpha=0.18,
                            lw=0)
        ax.set_title(emotion, color=COLOURS[emotion], fontweight="bold")
        ax.set_ylim(0, 1)
        ax.set_xlim(0, max(duration, 1e-3))
        ax.grid(alpha=0.3)
        if k % 4 == 0:
            ax.set_ylabel("probability (0 to 1)")
        if k >= 3:
            ax.set_xlabel("seconds into the video")
            ax.tick_params(labelbottom=True)
    legend_ax = axes[-1]
    legend_ax.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    if len(lines) > 1:
        legend_ax.legend(handles, labels, loc="center", title="line colour", frameon=False)
    legend_ax.text(0.5, 0.08, f"time bins of {lines[0].bin_width:g} s\nno band: fewer than 2 participants",
                   ha="center", va="bottom", fontsize=9, color="#555555", transform=legend_ax.transAxes)
    return _save(fig, path)


def shares_png(shares: list[Shares], title: str, path: Path) -> Path:
    """Stacked bars per second: the share of participants whose dominant expression was each emotion."""
    fig = _figure(12, 1.2 + 2.6 * len(shares))
    axes = np.atleast_1d(fig.subplots(len(shares), 1, sharex=True, squeeze=False)[:, 0])
    fig.suptitle(f"{title}: which expression dominated each second — share of participants\n"
                 "(each participant counts once per second, for the expression with their highest mean "
                 "probability in that second)", fontsize=11)
    for ax, s in zip(axes, shares):
        bottom = np.zeros(len(s.second))
        x = s.second + 0.5
        edges = np.append(s.second, s.second[-1] + 1.0) if len(s.second) else np.zeros(1)
        for k, emotion in enumerate(EMOTIONS):
            values = np.nan_to_num(s.share[:, k]) * 100
            # One filled step outline per expression rather than a bar per second: a long video draws in a
            # fraction of the time, and the picture is the same stacked columns, one second wide.
            ax.stairs(bottom + values, edges, baseline=bottom.copy(), fill=True, color=COLOURS[emotion],
                      label=emotion)
            bottom += values
        step = max(1, -(-len(x) // 20))  # at most about 20 labels, so long videos stay readable (and quick)
        for xi, ni in list(zip(x, s.n))[::step]:
            ax.text(xi, 101, f"n={int(ni)}", ha="center", va="bottom", fontsize=8, color="#555555")
        ax.set_ylim(0, 112)
        ax.set_ylabel("% of participants")
        ax.set_title("all participants" if s.group == ALL else f"group {s.group}", loc="left", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[-1].set_xlabel("second of the video (n = participants with a face in view that second)")
    axes[-1].set_xticks(range(0, len(shares[0].second) + 1, max(1, -(-len(shares[0].second) // 20))))
    axes[0].legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, title="expression")
    return _save(fig, path)


def heatmap_png(grid: DominantGrid, title: str, path: Path) -> Path:
    """Participants × time, coloured by each one's dominant expression; light grey where no face was seen."""
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    rows, bins = grid.grid.shape
    fig = _figure(12, 1.6 + 0.32 * max(rows, 3))
    ax = fig.subplots()
    cmap = ListedColormap([NO_FACE] + [COLOURS[e] for e in EMOTIONS])
    extent = (0, bins * grid.bin_width, rows - 0.5, -0.5)
    ax.imshow(grid.grid + 1, cmap=cmap, vmin=0, vmax=len(EMOTIONS), aspect="auto", interpolation="nearest",
              extent=extent)
    ax.set_yticks(range(rows), grid.labels)
    for i in range(1, rows):
        if grid.groups[i] != grid.groups[i - 1]:
            ax.axhline(i - 0.5, color="black", lw=1.5)
    ax.set_xlabel(f"seconds into the video (bins of {grid.bin_width:g} s)")
    ax.set_title(f"{title}: each participant's dominant expression over time\n"
                 "(the expression with the highest mean probability in each bin; rows grouped by group)",
                 fontsize=11)
    handles = [Patch(color=COLOURS[e], label=e) for e in EMOTIONS] + [Patch(color=NO_FACE, label="no face seen")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _save(fig, path)


def isc_png(rows: list[dict], title: str, path: Path) -> Path:
    """Bars: the leave-one-out ISC per expression and group; a mark at each bar's null 95th percentile."""
    fig = _figure(12, 4.2)
    ax = fig.subplots()
    groups = list(dict.fromkeys(r["group"] for r in rows))
    width = 0.8 / max(len(groups), 1)
    for g, group in enumerate(groups):
        x = np.arange(len(EMOTIONS)) + (g - (len(groups) - 1) / 2) * width
        mine = {r["expression"]: r for r in rows if r["group"] == group}
        values = np.array([mine.get(e, {}).get("isc", np.nan) for e in EMOTIONS], dtype=float)
        nulls = np.array([mine.get(e, {}).get("null_95", np.nan) for e in EMOTIONS], dtype=float)
        n = max((mine[e]["n"] for e in mine), default=0)
        label = f"all participants (n ≤ {n})" if group == ALL else f"group {group} (n ≤ {n})"
        ax.bar(x, np.nan_to_num(values), width=width * 0.9, color=GROUP_COLOURS[g % len(GROUP_COLOURS)], label=label)
        ax.plot(x, nulls, linestyle="none", marker="_", markersize=14, color="black",
                label="null 95th percentile" if g == 0 else None)
    ax.axhline(0, color="#555555", lw=0.8)
    ax.set_xticks(range(len(EMOTIONS)), EMOTIONS)
    ax.set_ylabel("inter-subject correlation (r)")
    ax.set_title(f"{title}: how much participants' expressions moved together over time\n"
                 "(leave-one-out ISC: each participant's time course against the mean of the others; "
                 "no bar: too few participants)", fontsize=11)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return _save(fig, path)
