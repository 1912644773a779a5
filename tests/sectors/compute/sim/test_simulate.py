"""The adversary simulator: every cheating strategy loses against honest work at the defaults, the Monte
Carlo agrees with the closed form, honest providers are never penalised; `depin simulate compute --json`."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from opendepin.sectors.compute.params import ComputeParams
from opendepin.sectors.compute.sim.cli import build_app
from opendepin.sectors.compute.sim.model import (
    Economy,
    capacity_liar,
    closed_form,
    provider_strategy,
    spot_probability,
)
from opendepin.sectors.compute.sim.scenarios import run

SMALL = Economy(providers=20, jobs=60)
PARAMS = ComputeParams()


def test_spot_probability_is_hypergeometric() -> None:
    assert spot_probability(32, 0, 2) == 0
    assert spot_probability(32, 32, 2) == 1
    assert abs(spot_probability(32, 2, 2) - (1 - 435 / 496)) < 1e-12


def test_partial_cheating_matches_the_closed_form_and_loses() -> None:
    row = provider_strategy("partial_95", 0.05, SMALL, PARAMS, 3)
    assert row["expected_value"] < 0 and row["expected_value_closed_form"] < 0
    assert row["within_monte_carlo_error"], row
    assert abs(row["detection_rate"] - row["detection_rate_closed_form"]) < 0.05


def test_the_condition_flips_when_deposits_and_checks_are_too_small() -> None:
    """The closed form is not a tautology: with one check, no deposit and a thin margin, skipping 1 of 32
    units pays."""
    weak = ComputeParams.model_validate({"verify": {"spot_checks": 1}, "market": {"deposit_bps": 0}})
    thin = Economy(units=32, price=10, cost=40)
    assert closed_form(thin, 1 / 32, weak)["expected_value"] > 0
    # at the defaults even a zero-margin job (price = cost) makes skipping one unit lose
    assert closed_form(Economy(units=32, price=10, cost=10), 1 / 32, PARAMS)["expected_value"] < 0


def test_overclaiming_capacity_only_adds_risk() -> None:
    row = capacity_liar(1.25, PARAMS, 5, 50, 200)
    assert row["expected_value"] < 0 and row["pay_vs_honest"] < 1 and row["false_positive_rate"] == 0
    assert row["within_monte_carlo_error"], row


def test_cli_json_for_a_scenario() -> None:
    result = CliRunner().invoke(
        build_app(), ["--scenario", "partial", "--providers", "10", "--jobs", "20", "--seed", "7", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["honest"]["false_positive_rate"] == 0
    assert set(data["strategies"]) == {"partial_95", "partial_99"}
    assert data["all_cheating_negative"] is True


def test_free_rider_and_collusion_lose() -> None:
    out = run("free-rider", SMALL, PARAMS, 7)["strategies"]["free_rider_tenant"]
    assert out["expected_value"] < 0 and out["unpaid_runs_received"] == 0 and out["detection_rate"] == 1
    ring = run("colluding", Economy(providers=10, jobs=20), PARAMS, 7)["strategies"]
    assert all(row["expected_value"] < 0 for row in ring.values())
    assert ring["colluding_lazy_r2"]["all_replicas_colluding"] == 0.09


def test_the_engine_catches_what_the_closed_form_says() -> None:
    from opendepin.sectors.compute.sim.engine import engine_run
    from opendepin.sectors.compute.sim.model import detection_probability

    row = engine_run(0.05, PARAMS, 11, pairs=60)
    expected = detection_probability(Economy(), 2, PARAMS)
    assert abs(row["detection_rate"] - expected) < 4 * (expected * (1 - expected) / 60) ** 0.5
    assert (
        row["false_positive_rate"] == 0 and row["pay_vs_honest"] < 1 and row["net_vs_honest_per_result"] < 0
    )
