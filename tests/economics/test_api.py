"""The modellers' API: tidy tables, the resolved scenario beside them, custom policies, locks and staking."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError

from opendepin.economics import Policies, run
from opendepin.economics.spec import AllocationSpec, FraudSpec, ScenarioSpec, StakingSpec
from tests.economics.test_verdicts import market


def test_tidy_tables_per_step_and_per_run(tmp_path: Path) -> None:
    results = run("growth", runs=3, years=1, overrides={"selling.max_hold": 0.5})
    assert results.steps.height == 3 * 365 and results.runs.height == 3
    assert {"set", "run", "day", "supply", "burned", "minted"} <= set(results.steps.columns)
    assert results.steps.to_pandas().shape == results.steps.shape
    files = results.write(tmp_path)
    scenario = json.loads(files["scenario"].read_text())
    assert scenario["selling"]["max_hold"] == 0.5 and scenario["days"] == 365 and scenario["runs"] == 3
    assert pl.read_parquet(files["runs"]).height == 3


def test_a_policy_that_returns_the_built_in_decision_changes_nothing() -> None:
    base = run("growth", runs=3, years=1)
    same = run(
        "growth",
        runs=3,
        years=1,
        policies=Policies(usage_weight=lambda day: day.default_weight, sell=lambda day: day.default_sold),
    )
    np.testing.assert_array_equal(base.result.records, same.result.records)


def test_a_custom_selling_policy_moves_the_market() -> None:
    spec = market().model_copy(update={"days": 365})
    held = run(spec, runs=4, policies=Policies(sell=lambda day: 0.0))
    dumped = run(spec, runs=4, policies=Policies(sell=lambda day: day.contributor_rewards))
    assert held.steps["price"].median() > dumped.steps["price"].median()
    assert held.steps["holdings"].max() > dumped.steps["holdings"].max()


def test_vesting_locks_then_releases_supply() -> None:
    spec = market().model_copy(
        update={
            "days": 400,
            "allocations": [AllocationSpec(name="team", tokens=10_000_000, cliff_days=100, vesting_days=200)],
        }
    )
    steps = run(spec, runs=2, record_every=1).steps.filter(pl.col("run") == 0)
    locked = steps["locked"].to_numpy()
    assert locked[0] == pytest.approx(10_000_000) and locked[50] == pytest.approx(10_000_000)
    assert locked[-1] == pytest.approx(0.0, abs=1e-6)
    assert np.all(np.diff(locked) <= 1e-6)  # only ever released
    circulating = steps["circulating"].to_numpy()
    np.testing.assert_allclose(circulating + locked, steps["supply"].to_numpy(), rtol=1e-6)


def test_staking_locks_tokens_for_a_yield() -> None:
    spec = market().model_copy(update={"days": 365})
    rewards = spec.rewards.model_copy(
        update={
            "categories": {"coverage": 7_000, "stakers": 1_000, "operations": 2_000},
            "device_categories": ["coverage"],
        }
    )
    staked = spec.model_copy(
        update={"rewards": rewards, "staking": StakingSpec(category="stakers", initial_staked=1_000_000)}
    )
    steps = run(staked, runs=2).steps
    assert steps["staked"].max() > 1_000_000
    assert (steps["locked"] >= steps["staked"] - 1e-6).all()


def test_fraud_leakage_is_paid_to_cheaters() -> None:
    spec = market().model_copy(update={"days": 200})
    sector = spec.sectors[0].model_copy(update={"fraud": FraudSpec(leakage=0.1, source="test")})
    leaky = spec.model_copy(update={"sectors": [sector]})
    steps = run(leaky, runs=2).steps
    assert steps["cheater_paid"].min() > 0
    ratio = steps["cheater_paid"] / (steps["coverage_paid"])
    assert ratio.median() == pytest.approx(0.1, rel=1e-3)


def test_invalid_allocations_beyond_the_supply() -> None:
    with pytest.raises(ValidationError, match="more than"):
        ScenarioSpec.model_validate({**market().model_dump(), "allocations": [{"name": "x", "tokens": 1e12}]})
