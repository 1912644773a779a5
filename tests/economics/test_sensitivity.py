"""Sensitivity of outcomes to swept parameters (Spearman rank correlation)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from opendepin.economics.sensitivity import compute_rank_correlation, compute_sensitivity


def test_rank_correlation_of_monotone_relations() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert compute_rank_correlation(x, x**3) == pytest.approx(1.0)
    assert compute_rank_correlation(x, -np.exp(x)) == pytest.approx(-1.0)


def test_invalid_rank_correlation_needs_three_varying_pairs() -> None:
    assert np.isnan(compute_rank_correlation(np.array([1.0, 2.0]), np.array([1.0, 2.0])))
    assert np.isnan(compute_rank_correlation(np.array([1.0, 2.0, 3.0]), np.array([5.0, 5.0, 5.0])))


def test_sensitivity_table_ranks_the_driving_parameter() -> None:
    """The burn/mint ratio falls with the price set by `p`; `noise` is unrelated to it."""
    sets = [{"p": p, "noise": n} for p, n in [(1.0, 3.0), (2.0, 1.0), (3.0, 4.0), (4.0, 2.0)]]
    rows = []
    for s, changes in enumerate(sets):
        for run in range(3):
            rows.append(
                {
                    "set": s,
                    "run": run,
                    "last_year_burn_mint_ratio": 1.0 / changes["p"] + 0.001 * run,
                    "sustainable_from_day": 100.0 if changes["p"] < 2.5 else float("nan"),
                    "payback_days[d]": 10.0 * changes["p"],
                }
            )
    table = compute_sensitivity(sets, pl.DataFrame(rows))
    by_name = {row["parameter"]: row for row in table.iter_rows(named=True)}
    assert by_name["p"]["last-year burn/mint"] == pytest.approx(-1.0)
    assert by_name["p"]["payback_days[d]"] == pytest.approx(1.0)
    assert abs(by_name["noise"]["last-year burn/mint"]) < 0.5
    assert compute_sensitivity(sets[:2], pl.DataFrame(rows)).height == 0
