"""Shocks say what they did to contributors; fraud says what cheaters took (or that it is not known)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from opendepin.economics.cli import app
from opendepin.economics.metrics import compute_step_metrics
from opendepin.economics.model import simulate
from opendepin.economics.scenarios import load_scenario
from opendepin.economics.shocks import compute_device_effects, describe_fraud, describe_shocks, list_shocks
from opendepin.economics.spec import FraudSpec
from tests.economics.test_verdicts import market


def test_a_price_crash_costs_devices_and_earnings(tmp_path: Path) -> None:
    spec = load_scenario("price-crash").model_copy(update={"days": 2 * 365})
    result = simulate((spec,), 8, seed=1)
    metrics = compute_step_metrics(result)
    [shock] = list_shocks(spec)
    assert (shock.day, shock.what) == (365, "token price")
    [effect] = compute_device_effects(result, metrics, shock)
    assert effect.trough < effect.before and effect.trough_day > 365
    assert effect.earnings_after < effect.earnings_before
    blocks = describe_shocks(result, metrics, tmp_path)
    text = " ".join(str(b) for b in blocks)
    assert "token price × 0.15 from day 365" in text and "at the lowest" in text
    assert (tmp_path / "shock_contributors.png").stat().st_size > 0


def test_no_shock_no_section() -> None:
    spec = market().model_copy(update={"days": 100})
    result = simulate((spec,), 2, seed=1)
    assert describe_shocks(result, compute_step_metrics(result)) == []


def test_fraud_is_reported_or_said_to_be_unknown() -> None:
    spec = market().model_copy(update={"days": 100})
    unknown = " ".join(str(b) for b in describe_fraud(simulate((spec,), 2, seed=1)))
    assert "not known" in unknown and "Paid to cheaters" not in unknown
    fraud = FraudSpec(
        leakage=0.05, false_positive_rate=0.01, adversary_share=0.1, source="wireless simulator"
    )
    leaky = spec.model_copy(update={"sectors": [spec.sectors[0].model_copy(update={"fraud": fraud})]})
    text = " ".join(str(b) for b in describe_fraud(simulate((leaky,), 2, seed=1)))
    assert "5.0% of coverage pay" in text and "wireless simulator" in text and "Paid to cheaters" in text


# `depin simulate wireless --json --devices 500 --epochs 2` (mixed adversaries, 15 %), as measured
SIMULATOR_JSON = {
    "adversaries": 75,
    "adversary_pay_ratio": 0.0883,
    "baseline": {"adversary_pay_ratio": 1.2371, "false_positive_rate": 0.0, "leakage": 0.17919},
    "devices": 500,
    "false_positive_rate": 0.00235,
    "leakage": 0.01534,
    "network": "helium-style-iot",
    "scenario": "mixed",
}


def test_fraud_figures_from_a_simulators_json() -> None:
    fraud = FraudSpec.from_simulation(SIMULATOR_JSON, "wireless.json")
    assert fraud.leakage == 0.01534 and fraud.rules_only_leakage == 0.17919
    assert fraud.adversary_share == 0.15 and fraud.false_positive_rate == 0.00235
    assert fraud.simulator == "helium-style-iot" and fraud.source == "wireless.json"


def test_run_with_measured_fraud_reports_it(tmp_path: Path) -> None:
    figures = tmp_path / "wireless.json"
    figures.write_text(json.dumps(SIMULATOR_JSON))
    out = tmp_path / "out"
    args = [
        "run",
        "growth",
        "--runs",
        "3",
        "--years",
        "0.5",
        "-q",
        "-o",
        str(out),
        "--fraud",
        f"iot={figures}",
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text()
    assert "iot (wireless.json): verification lets 1.5% of coverage pay through" in report
    assert "17.9% with the sector's rules alone" in report and "Paid to cheaters" in report
    assert json.loads((out / "scenario.json").read_text())["sectors"][1]["fraud"]["leakage"] == 0.01534
    bad = CliRunner().invoke(app, [*args[:-1], f"nothing={figures}"])
    assert bad.exit_code == 2 and "no sector 'nothing'" in bad.output
