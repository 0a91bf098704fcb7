"""The statistics of a study report, in numpy and the standard library only.

* :func:`welch_t`: Welch's two-sample t test (unequal variances), two-sided p from Student's t distribution,
  computed with :func:`t_sf` through the regularized incomplete beta function (:func:`betainc`).
* :func:`hedges_g` and :func:`bootstrap_g_ci`: the standardized mean difference with the small-sample
  correction, and a seeded percentile bootstrap interval for it.
* :func:`holm` and :func:`benjamini_hochberg`: adjusted p-values across a family of tests.
* :func:`loo_isc` and :func:`isc_null`: leave-one-out inter-subject correlation and its circular-shift null.

Every function takes plain arrays and returns plain numbers, so each can be checked against a hand-worked
example or another library.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_EPS = 1e-15
_TINY = 1e-300


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the incomplete beta function (modified Lentz's method)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > _TINY else _TINY)
        c = 1.0 + aa / c
        c = c if abs(c) > _TINY else _TINY
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"the incomplete beta function did not converge for a={a}, b={b}, x={x}")


def betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if not (a > 0 and b > 0) or not 0.0 <= x <= 1.0:
        raise ValueError(f"betainc needs a, b > 0 and 0 <= x <= 1, got a={a}, b={b}, x={x}")
    if x in (0.0, 1.0):
        return x
    log_front = a * math.log(x) + b * math.log1p(-x) - (math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` degrees of freedom (any real df > 0)."""
    if not df > 0:
        raise ValueError(f"degrees of freedom must be above 0, got {df}")
    if math.isinf(t):
        return 0.0 if t > 0 else 1.0
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


@dataclass(frozen=True)
class WelchResult:
    t: float
    df: float
    p: float  # two-sided
    mean_difference: float  # mean(a) - mean(b)


def welch_t(a: np.ndarray, b: np.ndarray) -> WelchResult:
    """Welch's t test of mean(a) = mean(b); ``ValueError`` with fewer than 2 values in a group or no variance."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's t test needs at least 2 values per group")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se2 = va + vb
    if not se2 > 0:
        raise ValueError("both groups have no variance: the t statistic is undefined")
    difference = float(a.mean() - b.mean())
    t = difference / math.sqrt(se2)
    df = se2 ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    t, df = float(t), float(df)
    return WelchResult(t, df, min(1.0, 2.0 * t_sf(abs(t), df)), difference)


def _pooled_sd(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
    na, nb = a.shape[axis], b.shape[axis]
    return np.sqrt(((na - 1) * a.var(axis=axis, ddof=1) + (nb - 1) * b.var(axis=axis, ddof=1)) / (na + nb - 2))


def hedges_correction(na: int, nb: int) -> float:
    """The small-sample factor J = 1 - 3 / (4 (na + nb) - 9) that turns Cohen's d into Hedges' g."""
    return 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)


def hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    """(mean(a) - mean(b)) / pooled SD, times J; NaN when the pooled SD is 0."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    sd = float(_pooled_sd(a, b))
    if not sd > 0:
        return math.nan
    return hedges_correction(len(a), len(b)) * float(a.mean() - b.mean()) / sd


def bootstrap_g_ci(a: np.ndarray, b: np.ndarray, *, resamples: int = 2000, level: float = 0.95,
                   seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of Hedges' g: each group resampled with replacement on its own.

    Resamples whose pooled SD is 0 are dropped; (NaN, NaN) when fewer than half remain.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, len(a), size=(resamples, len(a)))]
    rb = b[rng.integers(0, len(b), size=(resamples, len(b)))]
    sd = _pooled_sd(ra, rb, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = hedges_correction(len(a), len(b)) * (ra.mean(axis=1) - rb.mean(axis=1)) / sd
    g = g[np.isfinite(g)]
    if len(g) < resamples / 2:
        return math.nan, math.nan
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(g, [tail, 100.0 - tail])
    return float(low), float(high)


def holm(p: list[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


def benjamini_hochberg(p: list[float] | np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg step-up adjusted p-values (controls the false discovery rate)."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted


CORRECTIONS = {"holm": holm, "bh": benjamini_hochberg}


def _loo_r(x: np.ndarray) -> np.ndarray:
    """[..., S, T] series -> [..., S] correlation of each series with the mean of the others."""
    s = x.shape[-2]
    others = (x.sum(axis=-2, keepdims=True) - x) / (s - 1)
    xc = x - x.mean(axis=-1, keepdims=True)
    oc = others - others.mean(axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (xc * oc).sum(axis=-1) / np.sqrt((xc ** 2).sum(axis=-1) * (oc ** 2).sum(axis=-1))


def loo_isc(x: np.ndarray) -> float:
    """Leave-one-out inter-subject correlation of ``x`` [subjects, time]: the mean over subjects of
    Pearson's r between a subject's series and the mean series of all the others."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] < 3 or x.shape[1] < 3:
        raise ValueError("leave-one-out ISC needs at least 3 subjects and 3 time points")
    return float(np.nanmean(_loo_r(x)))


def isc_null(x: np.ndarray, *, permutations: int = 1000, seed: int = 0, chunk: int = 100) -> np.ndarray:
    """The ISC of ``x`` with each subject's series circularly shifted by its own random offset, ``permutations``
    times: the null distribution of an ISC without shared timing (each series keeps its autocorrelation).

    Computed without building the shifted series: with every series centred (a shift changes neither its mean
    nor its length n_i), subject i's leave-one-out r is (d_i - n_i^2) / (n_i sqrt(sum_k d_k - 2 d_i + n_i^2)),
    where d_i, the dot product of i's shifted series with the sum of all shifted series, is the sum over j of
    the circular cross-correlation of i and j at the difference of their shifts (taken once, by FFT).
    """
    x = np.asarray(x, dtype=float)
    s, t = x.shape
    centred = x - x.mean(axis=1, keepdims=True)
    length2 = (centred ** 2).sum(axis=1)  # n_i^2
    spectrum = np.fft.rfft(centred, axis=1)
    cross = np.fft.irfft(np.conj(spectrum)[:, None, :] * spectrum[None, :, :], n=t, axis=2)  # [i, j, lag]
    rng = np.random.default_rng(seed)
    out = np.empty(permutations)
    i_index, j_index = np.arange(s)[:, None], np.arange(s)[None, :]
    for start in range(0, permutations, chunk):
        n = min(chunk, permutations - start)
        shifts = rng.integers(0, t, size=(n, s))
        lag = (shifts[:, :, None] - shifts[:, None, :]) % t  # [n, i, j]: s_i - s_j
        d = cross[i_index, j_index, lag].sum(axis=2)  # [n, i]
        with np.errstate(invalid="ignore", divide="ignore"):
            r = (d - length2) / np.sqrt(length2 * (d.sum(axis=1, keepdims=True) - 2.0 * d + length2))
        out[start:start + n] = np.nanmean(r, axis=1)
    return out


def permutation_p(observed: float, null: np.ndarray) -> float:
    """One-sided p of ``observed`` against ``null`` (greater is more extreme), counting the observation itself."""
    return float((1 + np.sum(null >= observed - 1e-12)) / (1 + len(null)))
