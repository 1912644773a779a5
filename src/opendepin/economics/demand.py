"""USD demand per sector D_t: growth curve × seasonality × shocks × a log random walk.

The deterministic part is a whole path computed at once; the random part is a log walk with E[exp] = 1,
so the mean demand path is the deterministic one. Demand a sector's devices cannot serve (capacity per
device) is lost, see :func:`compute_served_demand`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.paths import compute_shock_factor
from opendepin.economics.spec import DAYS_PER_YEAR, GrowthSpec, SeasonalitySpec, SectorSpec

FloatArray = NDArray[np.float64]


def compute_growth(growth: GrowthSpec, days: FloatArray) -> FloatArray:
    """Trend multiplier, 1 at day 0: linear 1 + r·t, exponential (1 + r)^t, logistic toward the ceiling."""
    years = days / DAYS_PER_YEAR
    if growth.kind == "constant":
        return np.ones_like(days, dtype=np.float64)
    if growth.kind == "linear":
        return np.maximum(1.0 + growth.rate_per_year * years, 0.0)
    if growth.rate_per_year <= -1.0:
        raise ValueError(f"{growth.kind} growth needs rate_per_year > -1, got {growth.rate_per_year}")
    rate = np.log1p(growth.rate_per_year)
    if growth.kind == "exponential":
        return np.exp(rate * years)
    ceiling = growth.ceiling_multiple
    return ceiling / (1.0 + (ceiling - 1.0) * np.exp(-rate * years))


def compute_seasonality(cycles: Sequence[SeasonalitySpec], days: FloatArray) -> FloatArray:
    """Π (1 + a · sin(2π (t − φ) / period))."""
    factor = np.ones_like(days, dtype=np.float64)
    for cycle in cycles:
        factor *= 1.0 + cycle.amplitude * np.sin(2.0 * np.pi * (days - cycle.phase_days) / cycle.period_days)
    return factor


def compute_demand_trend(sector: SectorSpec, days: FloatArray) -> FloatArray:
    """Mean USD demand per day: initial × growth × seasonality × shocks."""
    return (
        sector.initial_usd_per_day
        * compute_growth(sector.growth, days)
        * compute_seasonality(sector.seasonality, days)
        * compute_shock_factor(sector.shocks, days)
    )


def compute_served_demand(demand: FloatArray, capacity_usd: FloatArray) -> FloatArray:
    """Demand the devices can serve: min(demand, capacity per device · devices of the sector)."""
    return np.minimum(demand, capacity_usd)
