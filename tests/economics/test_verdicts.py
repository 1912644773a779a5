"""The burn/mint verdict is found by the simulation, not restated from an input, and says what it assumes."""

from __future__ import annotations

import numpy as np

from opendepin.economics.findings import compute_findings
from opendepin.economics.metrics import compute_run_summary, compute_step_metrics
from opendepin.economics.model import simulate
from opendepin.economics.report import describe_assumption, describe_sustainability
from opendepin.economics.spec import (
    DeviceTypeSpec,
    FixedSchedule,
    GrowthSpec,
    PriceSpec,
    ScenarioSpec,
    SectorSpec,
    SellingSpec,
    TokenSpec,
)

RUNS = 16


def market(opex: float = 10.0, rule: str = "agents", sell: float = 0.6, growth: float = 0.8) -> ScenarioSpec:
    """A market-priced token paying 1,000 devices of one type (no joins or leaves) for a growing service."""
    return ScenarioSpec(
        name="verdict",
        days=3 * 365,
        token=TokenSpec(initial_supply=50_000_000),
        emission=FixedSchedule(per_year=36_500_000),
        price=PriceSpec(
            kind="market",
            initial=0.5,
            volatility_per_year=0.3,
            drift_per_year=0.045,
            impact=0.5,
            depth_usd=200_000,
            sell_fraction=sell,
        ),
        selling=SellingSpec(rule=rule),  # type: ignore[arg-type]
        sectors=[
            SectorSpec(
                name="svc",
                initial_usd_per_day=20_000,
                growth=GrowthSpec(kind="exponential", rate_per_year=growth),
            )
        ],
        devices=[
            DeviceTypeSpec(
                name="node",
                sector="svc",
                opex_usd_per_day=opex,
                initial=1_000,
                join_rate_per_day=0,
                join_floor=0,
                leave_rate_per_day=0,
            )
        ],
    )


def last_year_ratio(spec: ScenarioSpec) -> float:
    summary = compute_run_summary(simulate((spec,), RUNS, seed=1))
    return float(np.median(summary["last_year_burn_mint_ratio"].to_numpy()))


def test_the_fixed_rule_restates_sell_fraction() -> None:
    """The old rule: the last-year ratio is the sell share, whatever else happens (the issue's finding)."""
    for sell in (0.3, 0.6, 0.9):
        assert abs(last_year_ratio(market(rule="fixed", sell=sell)) - sell) < 0.02


def test_with_agents_the_sell_fraction_sweep_changes_nothing_and_costs_do() -> None:
    ratios = {sell: last_year_ratio(market(sell=sell)) for sell in (0.3, 0.6, 0.9)}
    assert len(set(ratios.values())) == 1  # sell_fraction is not an input of the agents rule
    assert all(abs(r - s) > 0.05 for s, r in ratios.items())  # and the outcome is none of them
    by_cost = [last_year_ratio(market(opex=opex)) for opex in (0.0, 10.0, 20.0, 40.0)]
    assert by_cost == sorted(by_cost, reverse=True)  # measured: 1.018, 0.991, 0.958, 0.905
    assert by_cost[0] - by_cost[-1] > 0.05


def test_the_verdict_changes_with_contributors_costs_and_names_its_assumption() -> None:
    texts = []
    for opex in (0.0, 40.0):
        spec = market(opex=opex)
        result = simulate((spec,), RUNS, seed=1)
        metrics = compute_step_metrics(result)
        findings = compute_findings(result, metrics, compute_run_summary(result, metrics))
        texts.append(" ".join(str(block) for block in describe_sustainability(findings)))
    assert "the model is sustainable" in texts[0]
    assert "the model is not sustainable" in texts[1]
    assert all("[selling]" in text and "operating costs" in text for text in texts)


def test_the_assumption_is_named_for_each_price_model() -> None:
    assert "restates an input" in describe_assumption(market(rule="fixed"))
    assert "the burn/mint ratio is the share of the mint sold" in describe_assumption(market())
    exogenous = market().model_copy(update={"price": PriceSpec(kind="gbm", initial=1.0)})
    assert "exogenous" in describe_assumption(exogenous)
