"""Groups compared per stimulus and expression, on one value per participant (``summaries.py``).

For each stimulus × expression × pair of groups (in the order the groups first appear): Welch's t test of
the two groups' means of the chosen measure, Hedges' g (group A − group B) with a seeded percentile
bootstrap interval, and the p-value adjusted across the whole family of tests in the table (Holm by
default, or Benjamini–Hochberg). A pair where either group has fewer than ``min_per_group`` participants with
a value gets no test: its ``note`` says so and its p is blank.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from .._events import EMOTIONS
from .stats import CORRECTIONS, bootstrap_g_ci, hedges_g, welch_t
from .summaries import MEASURES

COLUMNS = ("stimulus", "expression", "measure", "baseline", "group_a", "group_b", "n_a", "n_b", "mean_a", "mean_b",
           "difference", "t", "df", "p", "p_adjusted", "correction", "hedges_g", "g_ci_low", "g_ci_high", "note")
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini-Hochberg"}


@dataclass(frozen=True)
class ComparisonOptions:
    measure: str = "mean"  # a column of participant_summary.csv
    correction: str = "holm"  # or "bh"
    min_per_group: int = 3
    bootstrap: int = 2000  # resamples for the interval of g
    level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        if self.measure not in MEASURES:
            raise ValueError(f"measure must be one of {', '.join(MEASURES)}, got {self.measure!r}")
        if self.correction not in CORRECTIONS:
            raise ValueError(f"correction must be one of {', '.join(CORRECTIONS)}, got {self.correction!r}")
        if self.min_per_group < 2:
            raise ValueError("min_per_group must be at least 2 (a variance needs two values), "
                             f"got {self.min_per_group}")
        if self.bootstrap < 100:
            raise ValueError(f"bootstrap needs at least 100 resamples, got {self.bootstrap}")


def _values(summaries: list[dict], stimulus: str, expression: str, group: str, measure: str) -> np.ndarray:
    values = [r.get(measure) for r in summaries
              if r["stimulus"] == stimulus and r["expression"] == expression and r["group"] == group]
    return np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def group_tests(summaries: list[dict], options: ComparisonOptions = ComparisonOptions()) -> list[dict]:
    """One row per stimulus × expression × pair of groups; no rows with fewer than two groups."""
    groups = list(dict.fromkeys(r["group"] for r in summaries))
    stimuli = list(dict.fromkeys(r["stimulus"] for r in summaries))
    baselines = {r["stimulus"]: r["baseline"] for r in summaries}
    rows = []
    for stimulus in stimuli:
        label = baselines[stimulus].split(":")[0]  # "calibration, difference" without a missing participant's note
        for expression in EMOTIONS:
            for group_a, group_b in itertools.combinations(groups, 2):
                a = _values(summaries, stimulus, expression, group_a, options.measure)
                b = _values(summaries, stimulus, expression, group_b, options.measure)
                row = {"stimulus": stimulus, "expression": expression, "measure": options.measure, "baseline": label,
                       "group_a": group_a, "group_b": group_b, "n_a": len(a), "n_b": len(b),
                       "mean_a": float(a.mean()) if len(a) else None, "mean_b": float(b.mean()) if len(b) else None}
                if len(a) and len(b):
                    row["difference"] = row["mean_a"] - row["mean_b"]
                if min(len(a), len(b)) < options.min_per_group:
                    row["note"] = (f"too few participants for a test: {len(a)} in {group_a} and {len(b)} in {group_b} "
                                   f"have a value; at least {options.min_per_group} per group are needed")
                else:
                    _test(row, a, b, options, seed=len(rows))
                rows.append(row)
    tested = [r for r in rows if r.get("p") is not None]
    if tested:
        adjusted = CORRECTIONS[options.correction]([r["p"] for r in tested])
        name = f"{CORRECTION_NAMES[options.correction]} across {len(tested)} tests"
        for r, p in zip(tested, adjusted):
            r["p_adjusted"], r["correction"] = float(p), name
    return rows


def _test(row: dict, a: np.ndarray, b: np.ndarray, options: ComparisonOptions, seed: int) -> None:
    try:
        result = welch_t(a, b)
    except ValueError as exc:
        row["note"] = f"no test: {exc}"
        return
    row.update(t=result.t, df=result.df, p=result.p, hedges_g=hedges_g(a, b))
    low, high = bootstrap_g_ci(a, b, resamples=options.bootstrap, level=options.level, seed=options.seed + seed)
    row.update(g_ci_low=low, g_ci_high=high)
    if not math.isfinite(row["hedges_g"]):
        row["note"] = "no effect size: the pooled standard deviation is 0"
