"""Demand and price paths: growth curves, seasonality, shocks, interpolated price paths (closed forms)."""

from __future__ import annotations

import numpy as np
import pytest

from opendepin.economics.demand import (
    compute_demand_trend,
    compute_growth,
    compute_seasonality,
    compute_served_demand,
)
from opendepin.economics.paths import compute_shock_factor, compute_walk_drift, compute_walk_scale
from opendepin.economics.price import compute_market_flow, compute_price_base, compute_twap, is_oracle_halted
from opendepin.economics.spec import GrowthSpec, PriceSpec, SeasonalitySpec, SectorSpec, ShockSpec

DAYS = np.arange(0, 731, dtype=np.float64)


def test_exponential_growth_doubles_at_100_percent_a_year() -> None:
    growth = compute_growth(GrowthSpec(kind="exponential", rate_per_year=1.0), DAYS)
    assert growth[[0, 365, 730]] == pytest.approx([1.0, 2.0, 4.0])


def test_linear_growth_and_floor() -> None:
    assert compute_growth(GrowthSpec(kind="linear", rate_per_year=0.5), DAYS)[730] == pytest.approx(2.0)
    assert compute_growth(GrowthSpec(kind="linear", rate_per_year=-2.0), DAYS)[730] == 0.0


def test_logistic_growth_starts_like_exponential_and_saturates() -> None:
    spec = GrowthSpec(kind="logistic", rate_per_year=1.0, ceiling_multiple=10.0)
    growth = compute_growth(spec, np.arange(0, 365 * 30, dtype=np.float64))
    assert growth[0] == pytest.approx(1.0)
    assert growth[1] / growth[0] == pytest.approx(2 ** (1 / 365), rel=1e-3)
    assert growth[-1] == pytest.approx(10.0, rel=1e-6)
    assert np.all(np.diff(growth) > 0)


def test_invalid_growth_rate_below_minus_one() -> None:
    with pytest.raises(ValueError, match="rate_per_year > -1"):
        compute_growth(GrowthSpec(kind="exponential", rate_per_year=-1.0), DAYS)


def test_weekly_seasonality_averages_to_one() -> None:
    season = compute_seasonality(
        [SeasonalitySpec(amplitude=0.3, period_days=7)], np.arange(0, 7 * 52, dtype=np.float64)
    )
    assert season.mean() == pytest.approx(1.0, abs=1e-9)
    assert season.max() == pytest.approx(1.3, abs=0.02)


def test_shocks_apply_for_their_duration() -> None:
    factor = compute_shock_factor(
        [ShockSpec(day=10, factor=0.5, duration_days=5), ShockSpec(day=12, factor=2.0)], DAYS
    )
    assert factor[[9, 10, 12, 14, 15, 700]].tolist() == [1.0, 0.5, 1.0, 1.0, 2.0, 2.0]


def test_demand_trend_multiplies_its_parts() -> None:
    sector = SectorSpec(
        name="s",
        initial_usd_per_day=100.0,
        growth=GrowthSpec(kind="exponential", rate_per_year=1.0),
        shocks=[ShockSpec(day=365, factor=0.25)],
    )
    assert compute_demand_trend(sector, DAYS)[[0, 364, 730]] == pytest.approx(
        [100.0, 100 * 2 ** (364 / 365), 100.0]
    )


def test_served_demand_is_capped_by_capacity() -> None:
    assert compute_served_demand(np.array([5.0, 50.0]), np.array([10.0, 10.0])).tolist() == [5.0, 10.0]


def test_price_path_is_log_linear_between_points() -> None:
    spec = PriceSpec(kind="path", path=[(0, 1.0), (100, 100.0)], volatility_per_year=0.0)
    base = compute_price_base(spec, np.array([0.0, 50.0, 100.0, 200.0]))
    assert base == pytest.approx([1.0, 10.0, 100.0, 100.0])


def test_price_crash_shock() -> None:
    spec = PriceSpec(initial=2.0, shocks=[ShockSpec(day=5, factor=0.15)])
    assert compute_price_base(spec, np.array([4.0, 5.0, 500.0])) == pytest.approx([2.0, 0.3, 0.3])


def test_invalid_price_specs() -> None:
    with pytest.raises(ValueError, match=r"price\.path"):
        PriceSpec(kind="path")
    with pytest.raises(ValueError, match=r"only apply to price\.kind"):
        PriceSpec(kind="gbm", impact=1.0)


def test_walk_parameters() -> None:
    assert compute_walk_drift(0.0, 0.365) == pytest.approx(0.001)
    assert compute_walk_drift(np.sqrt(2 * 0.365)) == pytest.approx(-0.001)
    assert compute_walk_scale(np.sqrt(365.0)) == pytest.approx(1.0)


def test_market_flow_is_zero_at_d_over_m() -> None:
    """Demand D bought, all of M sold at P = D / M: no net flow."""
    assert compute_market_flow(
        np.array([1_000.0]), np.array([10.0]), 1.0, np.array([100.0]), 1e6
    ) == pytest.approx([0.0])
    assert compute_market_flow(np.array([2_000.0]), np.array([10.0]), 1.0, np.array([100.0]), 1e3)[
        0
    ] == pytest.approx(1.0)


def test_twap_and_staleness() -> None:
    assert compute_twap(np.array([[1.0, 2.0], [3.0, 6.0]])).tolist() == [2.0, 4.0]
    assert is_oracle_halted(np.array([0.0, 2.0, 3.0]), 2).tolist() == [False, False, True]
