"""Inter-subject correlation: how much the participants' expression time courses move together over a stimulus.

Per stimulus, expression and group (and all participants pooled): each participant's bin means of the
probability (``bin_seconds``) over the stimulus; a participant whose face was seen in fewer than half of the
bins is left out, and the others' gaps are filled by linear interpolation. The ISC is the mean over the
participants of Pearson's r between their series and the mean series of all the others (leave-one-out). Its
p-value is the share of ``permutations`` ISCs, each with every series circularly shifted by its own random
offset, that reach it (one-sided; shifting keeps each series' own slowness and breaks only the shared
timing). Correlations do not change when a participant's series is shifted or scaled by a positive number,
so the ISC is the same with any baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._events import EMOTIONS
from .recording import is_segment
from .series import Series, n_bins
from .spec import POOLED_GROUP
from .stats import isc_null, loo_isc, permutation_p
from .summaries import fill_gaps

COLUMNS = ("stimulus", "expression", "group", "n", "isc", "p", "null_95", "permutations", "bin_seconds", "note")
MIN_FACE_BINS = 0.5  # a participant needs a face in at least this share of the bins
MIN_PARTICIPANTS = 3


@dataclass(frozen=True)
class IscOptions:
    permutations: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.permutations < 99:
            raise ValueError(f"the ISC null needs at least 99 permutations, got {self.permutations}")


def _matrix(series: list[Series], width: float, bins: int) -> tuple[np.ndarray, list[str]]:
    """[participants, bins, 7] gap-filled bin means of those with a face in enough bins, and their labels."""
    kept, labels = [], []
    for s in series:
        means = s.bin_means(width, bins)
        if np.isfinite(means[:, 0]).mean() >= MIN_FACE_BINS:
            kept.append(np.stack([fill_gaps(means[:, k]) for k in range(len(EMOTIONS))], axis=1))
            labels.append(s.participant)
    return (np.stack(kept) if kept else np.empty((0, bins, len(EMOTIONS)))), labels


def isc_rows(series: dict[tuple[str, str], Series], durations: dict[str, float], width: float,
             options: IscOptions = IscOptions()) -> list[dict]:
    rows = []
    stimuli = list(dict.fromkeys(s for _, s in series if not is_segment(s)))
    for number, stimulus in enumerate(stimuli):
        mine = [s for (_, sid), s in series.items() if sid == stimulus]
        groups = list(dict.fromkeys(s.group for s in mine))
        bins = n_bins(durations.get(stimulus, max(s.played for s in mine)), width)
        for g_number, group in enumerate(([POOLED_GROUP] if len(groups) > 1 else []) + groups):
            members = mine if group == POOLED_GROUP else [s for s in mine if s.group == group]
            x, _ = _matrix(members, width, bins)
            for k, expression in enumerate(EMOTIONS):
                series_k = x[:, :, k]
                varying = series_k[np.ptp(series_k, axis=1) > 1e-12] if len(x) else series_k
                # n: the participants the correlation is over (a face in enough bins, a value that changes)
                row = {"stimulus": stimulus, "expression": expression, "group": group, "n": len(varying),
                       "permutations": options.permutations, "bin_seconds": width}
                if bins < 3:
                    row["note"] = (f"too short: {bins} bins of {width:g} s; a correlation over time needs at least "
                                   "3 (a longer stimulus or shorter bins)")
                elif len(varying) < MIN_PARTICIPANTS:
                    row["note"] = (f"too few participants: {len(varying)} with a face in at least half of the "
                                   f"{bins} bins and a changing value; at least {MIN_PARTICIPANTS} are needed")
                else:
                    seed = options.seed + 1000 * number + 10 * g_number + k
                    null = isc_null(varying, permutations=options.permutations, seed=seed)
                    row["isc"] = loo_isc(varying)
                    row["p"] = permutation_p(row["isc"], null)
                    row["null_95"] = float(np.percentile(null, 95))
                rows.append(row)
    return rows
