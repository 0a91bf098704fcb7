"""The report's statistics against independent computations: hand-worked examples, closed forms of the t
distribution, numerical integration of its density, the definitions of the corrections as step procedures,
and loops over the standard library's correlation."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest

from emoplay.study.stats import (benjamini_hochberg, betainc, bootstrap_g_ci, hedges_g, holm, isc_null, loo_isc,
                                 permutation_p, t_sf, welch_t)


def _t_two_sided_by_integration(t: float, df: float, steps: int = 20_000) -> float:
    """1 - 2 * integral of Student's t density from 0 to |t| (composite Simpson's rule)."""
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def pdf(x: float) -> float:
        return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))

    h = abs(t) / steps
    total = pdf(0.0) + pdf(abs(t))
    total += sum((4 if i % 2 else 2) * pdf(i * h) for i in range(1, steps))
    return 1.0 - 2.0 * total * h / 3.0


@pytest.mark.parametrize("t", [0.0, 0.3, 1.0, 2.5, 12.706])
def test_the_t_distribution_matches_its_closed_forms(t):
    assert 2 * t_sf(t, 1) == pytest.approx(1 - 2 / math.pi * math.atan(t), abs=1e-12)  # Cauchy
    assert 2 * t_sf(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), abs=1e-12)


@pytest.mark.parametrize("t,df", [(2.228138852, 10), (2.0, 10), (0.7, 3.3), (4.1, 6.97), (1.5, 55.5), (3.0, 200)])
def test_the_t_distribution_matches_numerical_integration(t, df):
    assert 2 * t_sf(t, df) == pytest.approx(_t_two_sided_by_integration(t, df), abs=1e-9)
    assert t_sf(-t, df) == pytest.approx(1 - t_sf(t, df), abs=1e-12)


def test_the_textbook_critical_values():
    assert 2 * t_sf(2.228138852, 10) == pytest.approx(0.05, abs=1e-9)
    assert 2 * t_sf(12.70620474, 1) == pytest.approx(0.05, abs=1e-9)
    assert 2 * t_sf(1.959963985, 1e7) == pytest.approx(0.05, abs=1e-6)


def test_the_incomplete_beta_function_at_known_points():
    assert betainc(1, 1, 0.3) == pytest.approx(0.3)  # uniform
    assert betainc(2, 1, 0.5) == pytest.approx(0.25)  # x^a when b = 1
    assert betainc(0.5, 0.5, 0.5) == pytest.approx(0.5)  # symmetric
    assert betainc(3, 5, 0.2) + betainc(5, 3, 0.8) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        betainc(0, 1, 0.5)


A = [1.0, 2.0, 3.0, 4.0, 5.0]
B = [2.0, 4.0, 6.0, 8.0, 10.0, 12.0]


def test_welch_t_on_a_hand_worked_example():
    # mean 3 and 7; variances 2.5 and 14; squared standard errors 0.5 and 14/6.
    se2 = 0.5 + 14 / 6
    result = welch_t(np.array(A), np.array(B))
    assert result.t == pytest.approx(-4 / math.sqrt(se2), abs=1e-12)
    assert result.df == pytest.approx(se2 ** 2 / (0.5 ** 2 / 4 + (14 / 6) ** 2 / 5), abs=1e-12)
    assert result.df == pytest.approx(6.97226, abs=1e-5)
    assert result.p == pytest.approx(_t_two_sided_by_integration(result.t, result.df), abs=1e-9)
    assert result.mean_difference == -4.0
    with pytest.raises(ValueError, match="at least 2 values"):
        welch_t(np.array([1.0]), np.array(B))
    with pytest.raises(ValueError, match="no variance"):
        welch_t(np.array([1.0, 1.0]), np.array([2.0, 2.0]))


def test_hedges_g_on_a_hand_worked_example():
    pooled_sd = math.sqrt((4 * statistics.variance(A) + 5 * statistics.variance(B)) / 9)
    j = 1 - 3 / (4 * 11 - 9)
    assert hedges_g(np.array(A), np.array(B)) == pytest.approx(j * (3 - 7) / pooled_sd, abs=1e-12)
    assert hedges_g(np.array(A), np.array(B)) == pytest.approx(-1.226643, abs=1e-6)
    assert math.isnan(hedges_g(np.array([1.0, 1.0]), np.array([1.0, 1.0])))


def test_the_bootstrap_interval_of_g_agrees_with_the_large_sample_approximation():
    rng = np.random.default_rng(11)
    a, b = rng.normal(0.5, 1, 300), rng.normal(0, 1, 300)
    g = hedges_g(a, b)
    se = math.sqrt(2 / 300 + g * g / (2 * 600))  # Hedges & Olkin's large-sample standard error
    low, high = bootstrap_g_ci(a, b, resamples=4000, seed=1)
    assert low == pytest.approx(g - 1.959964 * se, abs=0.03)
    assert high == pytest.approx(g + 1.959964 * se, abs=0.03)
    assert bootstrap_g_ci(a, b, seed=1, resamples=500) == bootstrap_g_ci(a, b, seed=1, resamples=500)
    assert bootstrap_g_ci(a, b, seed=1, resamples=500) != bootstrap_g_ci(a, b, seed=2, resamples=500)


def test_the_corrections_on_a_hand_worked_example():
    p = [0.01, 0.04, 0.03, 0.005]
    assert holm(p).tolist() == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert benjamini_hochberg(p).tolist() == pytest.approx([0.02, 0.04, 0.04, 0.02])


def _holm_rejects(p: list[float], alpha: float) -> set[int]:
    """Holm's procedure as published: step down the sorted p-values, stop at the first p > alpha / (m - k)."""
    order = sorted(range(len(p)), key=p.__getitem__)
    rejected = set()
    for k, i in enumerate(order):
        if p[i] > alpha / (len(p) - k):
            break
        rejected.add(i)
    return rejected


def _bh_rejects(p: list[float], alpha: float) -> set[int]:
    """Benjamini-Hochberg as published: reject the k smallest, k the largest with p_(k) <= k alpha / m."""
    order = sorted(range(len(p)), key=p.__getitem__)
    k = max((r for r in range(1, len(p) + 1) if p[order[r - 1]] <= r * alpha / len(p)), default=0)
    return set(order[:k])


def test_the_adjusted_p_values_reject_what_the_step_procedures_reject():
    rng = random.Random(5)
    for _ in range(300):
        p = [rng.random() ** rng.choice([1, 3, 6]) for _ in range(rng.randint(1, 25))]
        for alpha in (0.01, 0.05, 0.1):
            assert {i for i, q in enumerate(holm(p)) if q <= alpha} == _holm_rejects(p, alpha)
            assert {i for i, q in enumerate(benjamini_hochberg(p)) if q <= alpha} == _bh_rejects(p, alpha)


def _loo_isc_by_loops(x: np.ndarray) -> float:
    rs = []
    for i in range(len(x)):
        others = [statistics.fmean(x[j][t] for j in range(len(x)) if j != i) for t in range(x.shape[1])]
        rs.append(statistics.correlation(list(x[i]), others))
    return statistics.fmean(rs)


def test_leave_one_out_isc_matches_a_loop_over_pearsons_r():
    rng = np.random.default_rng(2)
    shared = np.sin(np.linspace(0, 6, 40))
    x = shared + rng.normal(0, 1.0, (6, 40))
    assert loo_isc(x) == pytest.approx(_loo_isc_by_loops(x), abs=1e-12)
    with pytest.raises(ValueError, match="at least 3 subjects"):
        loo_isc(x[:2])


def test_the_circular_shift_null_is_the_isc_of_independently_shifted_series():
    rng = np.random.default_rng(4)
    x = rng.normal(0, 1, (5, 30))
    null = isc_null(x, permutations=40, seed=9, chunk=40)
    shifts = np.random.default_rng(9).integers(0, 30, size=(40, 5))  # the draws isc_null makes
    by_hand = [_loo_isc_by_loops(np.stack([np.roll(x[s], shifts[k, s]) for s in range(5)])) for k in range(40)]
    assert null.tolist() == pytest.approx(by_hand, abs=1e-12)


def test_shared_timing_is_found_and_its_absence_is_not():
    rng = np.random.default_rng(8)
    shared = np.convolve(rng.normal(0, 1, 130), np.ones(10) / 10, mode="valid")[:120]
    together = shared + rng.normal(0, 0.1, (10, 120))
    apart = rng.normal(0, 1, (10, 120))
    null = isc_null(together, permutations=199, seed=1)
    assert loo_isc(together) > 0.9 and permutation_p(loo_isc(together), null) == 1 / 200
    ps = [permutation_p(loo_isc(noise), isc_null(noise, permutations=99, seed=s))
          for s, noise in enumerate(rng.normal(0, 1, (40, 8, 60)))]
    assert 0.25 < statistics.fmean(ps) < 0.75  # uniform on average under the null


# -- isc.csv's rows: who is counted, and why a row has no correlation -------------------------------------------

def _series(participant: str, stimulus: str, happy: np.ndarray, seconds: float):
    from emoplay import EMOTIONS
    from emoplay.study.series import Series

    time = np.linspace(0, seconds, len(happy), endpoint=False)
    p = np.full((len(happy), len(EMOTIONS)), 0.05)
    p[:, EMOTIONS.index("happy")] = happy
    return Series(participant, "all", stimulus, time, np.ones(len(happy), bool), p, seconds)


def test_isc_counts_only_participants_whose_value_changes_and_says_when_a_stimulus_is_too_short():
    from emoplay.study.isc import MIN_PARTICIPANTS, IscOptions, isc_rows

    rng = np.random.default_rng(3)
    wave = np.sin(np.linspace(0, 6, 200)) * 0.3 + 0.5
    moving = [wave + rng.normal(0, 0.05, 200) for _ in range(MIN_PARTICIPANTS)]
    series = {(f"P{i}", "long"): _series(f"P{i}", "long", h, 20.0) for i, h in enumerate(moving)}
    series[("flat", "long")] = _series("flat", "long", np.full(200, 0.4), 20.0)  # a face whose value never moves
    series.update({(f"P{i}", "short"): _series(f"P{i}", "short", h[:10], 1.0) for i, h in enumerate(moving)})
    rows = isc_rows(series, {"long": 20.0, "short": 1.0}, width=0.5, options=IscOptions(permutations=99))
    happy_long = next(r for r in rows if r["stimulus"] == "long" and r["expression"] == "happy")
    assert happy_long["n"] == MIN_PARTICIPANTS and happy_long["isc"] > 0.5
    happy_short = next(r for r in rows if r["stimulus"] == "short" and r["expression"] == "happy")
    assert "isc" not in happy_short and happy_short["note"].startswith("too short: 2 bins")
