"""Sobol indices (SALib) over the model: an input the outcome does not read has no effect, and the fixed
sell share is found to decide the burn/mint ratio on its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendepin.economics.cli import app
from opendepin.economics.global_sensitivity import compute_sobol, default_inputs, describe_sobol, plot_tornado
from tests.economics.test_verdicts import market


def test_the_fixed_sell_share_alone_decides_the_ratio() -> None:
    spec = market(rule="fixed").model_copy(update={"days": 365})
    inputs = {
        "price.sell_fraction": (0.3, 0.9),
        "devices.node.opex_usd_per_day": (0.0, 20.0),
        "selling.max_hold": (0.2, 0.9),  # not read by the fixed rule
    }
    result = compute_sobol(spec, inputs, base_samples=64, runs=2, seed=3)
    rows = {row["input"]: row for row in result.table.rows(named=True)}
    assert result.table["input"][0] == "price.sell_fraction"
    assert rows["price.sell_fraction"]["S1"] > 0.9 and rows["price.sell_fraction"]["ST"] > 0.9
    assert rows["selling.max_hold"]["ST"] == pytest.approx(0.0, abs=1e-9)  # common random numbers
    assert rows["devices.node.opex_usd_per_day"]["ST"] < 0.05
    assert "restates that input" in describe_sobol(result)


def test_with_agents_no_single_input_decides_it(tmp_path: Path) -> None:
    spec = market().model_copy(update={"days": 2 * 365})
    inputs = {
        "price.sell_fraction": (0.3, 0.9),  # not an input of the agents rule
        "devices.node.opex_usd_per_day": (0.0, 40.0),
        "selling.max_hold": (0.2, 0.9),
    }
    result = compute_sobol(spec, inputs, base_samples=16, runs=4, seed=3)
    rows = {row["input"]: row for row in result.table.rows(named=True)}
    assert rows["price.sell_fraction"]["ST"] == pytest.approx(0.0, abs=1e-9)
    assert rows["devices.node.opex_usd_per_day"]["ST"] > 0.05
    assert plot_tornado(result, tmp_path / "t.png").stat().st_size > 0


def test_default_inputs_are_the_selling_rule_costs_and_demand() -> None:
    inputs = default_inputs(market())
    assert set(inputs) >= {"selling.cover_costs", "selling.max_hold", "devices.node.opex_usd_per_day"}
    assert "price.sell_fraction" not in inputs
    assert "price.sell_fraction" in default_inputs(market(rule="fixed"))
    assert inputs["selling.max_hold"][1] <= 1.0


def test_cli_writes_table_chart_and_text(tmp_path: Path) -> None:
    args = [
        "sensitivity",
        "bootstrap",
        "--samples",
        "4",
        "--runs",
        "2",
        "--years",
        "0.5",
        "-o",
        str(tmp_path),
    ]
    args += ["--param", "price.initial=0.05:0.2", "--param", "sectors.wireless.initial_usd_per_day=100:1000"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "These indices are uncertain" in result.output and "N = 4 here" in result.output
    assert {p.name for p in tmp_path.iterdir()} >= {
        "sobol.parquet",
        "tornado.png",
        "sensitivity.md",
        "scenario.json",
    }
