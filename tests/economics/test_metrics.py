"""Per-step and per-run metrics: payback, ROI, sustainability onset, percentiles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.economics.metrics import (
    compute_nearest_rank,
    compute_percentiles,
    compute_realised_payback,
    compute_run_summary,
    compute_step_metrics,
    compute_sustainable_from,
)
from opendepin.economics.model import simulate
from opendepin.economics.spec import DeviceTypeSpec, FixedSchedule, GrowthSpec, PriceSpec, SectorSpec
from tests.economics.helpers import steady_scenario


def _fixed_fleet() -> DeviceTypeSpec:
    return DeviceTypeSpec(
        name="hotspot",
        sector="svc",
        hardware_cost_usd=100.0,
        opex_usd_per_day=0.5,
        initial=80,
        join_rate_per_day=0.0,
        leave_rate_per_day=0.0,
    )


def test_realised_payback_and_roi_closed_form() -> None:
    """80 devices share 80 tokens a day at $1: $1 − $0.5 opex = $0.5 a day ⇒ payback 200 days, ROI 82.5 %."""
    spec = steady_scenario(
        days=400, price=PriceSpec(kind="gbm", initial=1.0, volatility_per_year=0.0), devices=[_fixed_fleet()]
    )
    result = simulate((spec,), 2, seed=0)
    payback, roi = compute_realised_payback(result, "hotspot")
    assert payback == pytest.approx([200.0, 200.0])
    assert roi == pytest.approx([(365 * 0.5 - 100) / 100] * 2)
    metrics = compute_step_metrics(result)
    assert metrics["payback_days[hotspot]"][0] == pytest.approx([200.0, 200.0], rel=1e-6)


def test_invalid_payback_never_when_opex_exceeds_rewards() -> None:
    spec = steady_scenario(
        days=100, price=PriceSpec(kind="gbm", initial=0.1, volatility_per_year=0.0), devices=[_fixed_fleet()]
    )
    result = simulate((spec,), 1, seed=0)
    payback, roi = compute_realised_payback(result, "hotspot")
    assert np.isnan(payback[0])
    assert np.isnan(roi[0])  # horizon shorter than a year
    assert np.isinf(compute_step_metrics(result)["payback_days[hotspot]"][0, 0])


def test_sustainable_from_when_demand_overtakes_mints() -> None:
    """Mint 100 a day; demand $5,000 growing linearly by $10,000 a year at P = 100 ⇒ B = M at day 182.5."""
    spec = steady_scenario(
        days=730,
        emission=FixedSchedule(per_year=36_500),
        sectors=[
            SectorSpec(
                name="svc", initial_usd_per_day=5_000, growth=GrowthSpec(kind="linear", rate_per_year=2.0)
            )
        ],
    )
    result = simulate((spec,), 1, seed=0)
    metrics = compute_step_metrics(result)
    start = compute_sustainable_from(result, metrics["minted"], metrics["burned"])[0]
    # 30-day sums cover each other once the window is centred past day 182.5.
    assert 182 <= start <= 200


def test_never_sustainable_is_nan() -> None:
    spec = steady_scenario(price=PriceSpec(kind="gbm", initial=1_000.0, volatility_per_year=0.0))
    result = simulate((spec,), 2, seed=0)
    metrics = compute_step_metrics(result)
    assert np.all(np.isnan(compute_sustainable_from(result, metrics["minted"], metrics["burned"])))


def test_always_sustainable_is_day_zero() -> None:
    spec = steady_scenario(price=PriceSpec(kind="gbm", initial=10.0, volatility_per_year=0.0))
    result = simulate((spec,), 1, seed=0)
    metrics = compute_step_metrics(result)
    assert compute_sustainable_from(result, metrics["minted"], metrics["burned"])[0] == 0.0


def test_run_summary_and_percentiles_shapes() -> None:
    spec = steady_scenario(
        price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.5), devices=[_fixed_fleet()]
    )
    result = simulate(
        (spec, spec.model_copy(update={"price": PriceSpec(initial=50.0)})), 6, seed=1, record_every=7
    )
    metrics = compute_step_metrics(result)
    summary = compute_run_summary(result, metrics)
    assert summary.height == 12
    assert summary["set"].to_list() == [0] * 6 + [1] * 6
    table = compute_percentiles(result, metrics)
    assert set(table["metric"].unique()) == set(metrics)
    row = table.filter(table["metric"] == "price")
    assert (row["p5"] <= row["p50"]).all() and (row["p50"] <= row["p95"]).all()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6) | st.just(float("nan")), min_size=1, max_size=30))
def test_nearest_rank_is_monotone_and_picks_members(values: list[float]) -> None:
    """Property: percentiles never decrease with q and are values of the sample (NaN counted as +inf)."""
    data = np.array([values])
    ranks = compute_nearest_rank(data, (5, 25, 50, 75, 95))[:, 0]
    assert all(a <= b for a, b in itertools.pairwise(ranks.tolist()))
    members = set(np.where(np.isnan(data[0]), np.inf, data[0]).tolist())
    assert set(ranks.tolist()) <= members


def test_category_splits_of_the_mint() -> None:
    """Wireless example: oracles 7 %, operations 7 %, stakers 6 %; the device categories (coverage 30 %,
    data transfer 50 %) are one pool of 80 % that the reward policy divides between usage and coverage."""
    result = simulate((steady_scenario(days=10),), 1, seed=0)
    summary = compute_run_summary(result)
    assert summary["total_minted"][0] == pytest.approx(1_000.0, rel=1e-6)
    expected = {"devices": 800.0, "oracles": 70.0, "operations": 70.0, "stakers": 60.0}
    for category, amount in expected.items():
        assert summary[f"total_minted[{category}]"][0] == pytest.approx(amount, rel=1e-6)


def test_payback_is_interpolated_inside_a_recording_window() -> None:
    """Monthly records must not round the 200-day payback up to the window's end (day 210)."""
    spec = steady_scenario(
        days=400, price=PriceSpec(kind="gbm", initial=1.0, volatility_per_year=0.0), devices=[_fixed_fleet()]
    )
    result = simulate((spec,), 1, seed=0, record_every=30)
    payback, _ = compute_realised_payback(result, "hotspot")
    assert payback[0] == pytest.approx(200.0, rel=1e-6)


def test_a_mean_over_some_runs_says_how_many() -> None:
    """Paybacks that never happen are not averaged in silently: finite_share says which share the mean is."""
    spec = steady_scenario(days=100, devices=[_fixed_fleet()])
    result = simulate((spec,), 4, seed=1, record_every=10)
    metrics = {"x": np.array([[1.0, 2.0, np.nan, np.inf]] * result.records.shape[0])}
    row = compute_percentiles(result, metrics).row(0, named=True)
    assert row["mean"] == 1.5 and row["finite_share"] == 0.5
    assert row["p95"] == np.inf  # never counts as +inf in the percentiles
