"""The kernel's Poisson sampler (`kernel._next_poisson`: inversion below a mean of 10, Hörmann's PTRS from 10)
draws Poisson counts: a chi-square goodness-of-fit test against scipy.stats.poisson at means on both sides
of the switch, small to large, from fixed seeds (so the test is deterministic: the same draws every run).

The test has the power to see a wrong distribution: the normal approximation the kernel used before from a
mean of 30 (round(mean + √mean · z)) fails it at the same sample size."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from opendepin.economics import kernel

DRAWS = 200_000
MIN_EXPECTED = 20.0  # bins are merged until each expects at least this many draws
P_FLOOR = 1e-3


@njit(cache=False)
def _draw(s0, s1, mean, n):  # type: ignore[no-untyped-def]
    out = np.empty(n)
    for i in range(n):
        count, s0, s1 = kernel._next_poisson(s0, s1, mean)
        out[i] = count
    return out


def _counts(mean: float, seed: int) -> np.ndarray:
    rng = kernel.seed_streams(np.array([seed], dtype=np.uint64))
    return _draw(rng[0, 0], rng[1, 0], mean, DRAWS)


def chi_square_p(counts: np.ndarray, mean: float) -> float:
    """p-value of Pearson's chi-square test of `counts` against Poisson(mean), adjacent counts merged into
    bins expecting at least `MIN_EXPECTED` draws (the two tails included in the end bins)."""
    low, high = int(stats.poisson.ppf(1e-9, mean)), int(stats.poisson.isf(1e-9, mean))
    values, observed_at = np.unique(counts, return_counts=True)
    observed = np.zeros(high - low + 1)
    inside = (values >= low) & (values <= high)
    np.add.at(observed, values[inside].astype(np.int64) - low, observed_at[inside])
    observed[0] += observed_at[values < low].sum()
    observed[-1] += observed_at[values > high].sum()
    ks = np.arange(low, high + 1)
    expected = stats.poisson.pmf(ks, mean) * counts.size
    expected[0] += stats.poisson.cdf(low - 1, mean) * counts.size
    expected[-1] += stats.poisson.sf(high, mean) * counts.size
    bins_o: list[float] = []
    bins_e: list[float] = []
    run_o, run_e = 0.0, 0.0
    for count_o, count_e in zip(observed.tolist(), expected.tolist(), strict=True):
        run_o, run_e = run_o + count_o, run_e + count_e
        if run_e >= MIN_EXPECTED:
            bins_o.append(run_o)
            bins_e.append(run_e)
            run_o, run_e = 0.0, 0.0
    bins_o[-1] += run_o
    bins_e[-1] += run_e
    o, e = np.array(bins_o), np.array(bins_e)
    statistic = float(((o - e) ** 2 / e).sum())
    return float(stats.chi2.sf(statistic, o.size - 1))


@pytest.mark.parametrize(
    ("mean", "seed"),
    [(0.3, 1), (3.0, 2), (9.99, 3), (10.0, 4), (14.0, 5), (29.5, 6), (100.0, 7), (1e4, 8), (1e7, 9)],
)
def test_the_kernels_poisson_counts_have_the_poisson_distribution(mean: float, seed: int) -> None:
    counts = _counts(mean, seed)
    assert np.all(counts >= 0) and np.all(counts == np.floor(counts))
    se = np.sqrt(mean / DRAWS)
    assert abs(counts.mean() - mean) < 5 * se
    assert chi_square_p(counts, mean) > P_FLOOR


def test_the_chi_square_check_rejects_the_old_normal_approximation() -> None:
    """Its power: rounded normals (the kernel's draw above a mean of 30 before PTRS) fail at this size."""
    normals = np.random.default_rng(0).standard_normal(DRAWS)
    for mean in (30.0, 100.0):
        rounded = np.maximum(0.0, np.floor(mean + np.sqrt(mean) * normals + 0.5))
        assert chi_square_p(rounded, mean) < 1e-6


def test_a_mean_of_zero_draws_nothing() -> None:
    rng = kernel.seed_streams(np.array([5], dtype=np.uint64))
    s0, s1 = rng[0, 0], rng[1, 0]
    for mean in (0.0, -1.0, float("nan")):
        count, t0, t1 = kernel._next_poisson(s0, s1, mean)
        assert count == 0.0 and (t0, t1) == (s0, s1)
