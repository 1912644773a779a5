"""Small scenarios for the economics tests (few runs, short horizons)."""

from __future__ import annotations

from typing import Any

from opendepin.economics.spec import (
    FixedSchedule,
    GrowthSpec,
    PriceSpec,
    ScenarioSpec,
    SectorSpec,
    TokenSpec,
)


def steady_scenario(**update: Any) -> ScenarioSpec:
    """Constant demand D = 10,000 USD/day, fixed emission M = 36,500/yr (100 a day), constant price."""
    base = ScenarioSpec(
        name="steady",
        days=200,
        token=TokenSpec(initial_supply=1_000_000),
        emission=FixedSchedule(per_year=36_500),
        price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.0),
        sectors=[SectorSpec(name="svc", initial_usd_per_day=10_000, growth=GrowthSpec(kind="constant"))],
    )
    return base.model_copy(update=update)
