"""The report's numbers on a deterministic network where every answer is known in closed form."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from opendepin.economics.document import render_markdown
from opendepin.economics.experiments import prepare_experiment
from opendepin.economics.findings import compute_findings
from opendepin.economics.metrics import compute_percentiles, compute_run_summary, compute_step_metrics
from opendepin.economics.model import SimulationResult, simulate
from opendepin.economics.report import compose_report, key_numbers
from opendepin.economics.spec import DeviceTypeSpec, PriceSpec, ScenarioSpec, TokenSpec
from tests.economics.helpers import steady_scenario


def _equilibrium() -> tuple[ScenarioSpec, SimulationResult, dict[str, np.ndarray], pl.DataFrame]:
    """D = $10,000/day, M = 100 tokens/day, P = D/M = $100: B = M; 80 devices share 80 tokens = $100 each."""
    device = DeviceTypeSpec(
        name="hotspot",
        sector="svc",
        hardware_cost_usd=990.0,
        opex_usd_per_day=1.0,
        initial=80,
        join_rate_per_day=0.0,
        leave_rate_per_day=0.0,
    )
    spec = steady_scenario(
        days=730,
        runs=3,
        price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.0),
        devices=[device],
    )
    result = simulate((spec,), 3, seed=0)
    metrics = compute_step_metrics(result)
    summary = compute_run_summary(result, metrics)
    return spec, result, metrics, summary


def test_findings_at_equilibrium() -> None:
    _, result, metrics, summary = _equilibrium()
    f = compute_findings(result, metrics, summary)
    assert f.last_year_ratio.median == pytest.approx(1.0, rel=1e-5)
    assert f.first_year_ratio.median == pytest.approx(1.0, rel=1e-5)
    assert f.sustainable_share == 1.0 and f.sustainable_from_days.median == 0.0
    assert f.equilibrium_price.median == pytest.approx(100.0, rel=1e-5)
    assert f.demand_needed_usd.median == pytest.approx(10_000.0, rel=1e-5)
    assert f.last_year_revenue.median == pytest.approx(f.last_year_incentives.median, rel=1e-5)
    device = f.devices[0]
    assert device.payback_days.median == pytest.approx(10.0, rel=1e-5)  # $990 ÷ ($100 − $1)
    assert device.break_even_price == pytest.approx(1.0, rel=1e-5)  # $1 opex ÷ 1 token a day
    assert device.never_share == 0.0
    assert f.exhausted_share == 0.0


def test_report_states_the_numbers() -> None:
    spec, result, metrics, summary = _equilibrium()
    f = compute_findings(result, metrics, summary)
    percentiles = compute_percentiles(result, metrics)
    experiment = prepare_experiment(spec)
    text = render_markdown(compose_report(experiment, f, percentiles, summary, ["supply.png"]))
    assert "**In the last year the model is sustainable**" in text
    assert "**10 days (0.0 years)**" in text
    assert "**Demand below $10k (10k–10k) a day**" in text
    assert "**A token price below $1**" in text
    table = key_numbers(percentiles, 730)
    assert table.rows[0][0] == "circulating supply (tokens)"


def test_runs_that_run_out_of_supply_are_not_sustainable() -> None:
    """Demand worth far more than the supply at a fixed price: burns are capped by what circulates, revenue
    is what was burned (not the USD demand), and the runs count as exhausted, never as sustainable."""
    spec = steady_scenario(
        days=400,
        token=TokenSpec(initial_supply=10_000),
        price=PriceSpec(kind="gbm", initial=1.0, volatility_per_year=0.0),
    )  # $10,000 a day at $1 burns 10,000 tokens a day against 100 minted
    result = simulate((spec,), 3, seed=1)
    metrics = compute_step_metrics(result)
    summary = compute_run_summary(result, metrics)
    assert summary["exhausted"].to_list() == [True] * 3
    assert summary["sustainable_from_day"].is_nan().all()
    burned = result.channel("burned")
    assert (burned[-1] <= 100.0 + 1e-3).all()  # only what the day minted can burn once the supply is gone
    revenue = result.channel("revenue_usd")
    assert revenue[-1].max() <= 100.0 + 1e-3 and result.channel("unmet_usd")[-1].min() > 9_000
    findings = compute_findings(result, metrics, summary)
    assert findings.exhausted_share == 1.0 and findings.sustainable_share == 0.0
