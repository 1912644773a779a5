"""Experiments: command-line choices, sweep expansion, chunked batches joined in set order."""

from __future__ import annotations

import numpy as np
import pytest

from opendepin.economics.experiments import prepare_experiment, run_experiment
from opendepin.economics.spec import PriceSpec, SweepSpec
from tests.economics.helpers import steady_scenario


def test_command_line_choices_apply() -> None:
    experiment = prepare_experiment(steady_scenario(), runs=7, years=2, seed=5)
    assert (experiment.runs, experiment.days, experiment.scenario.seed) == (7, 730, 5)
    assert len(experiment.variants) == 1 and experiment.parameter_sets == [{}]


def test_chunks_are_joined_in_set_order() -> None:
    """Four price levels with 3 runs each, simulated two sets per chunk: set s burns D / P_s."""
    spec = steady_scenario(
        days=20,
        runs=3,
        price=PriceSpec(kind="gbm", initial=100.0, volatility_per_year=0.0),
        sweep=SweepSpec(kind="grid", values={"price.initial": [50.0, 100.0, 200.0, 400.0]}),
    )
    experiment = prepare_experiment(spec)
    assert len(experiment.chunks(max_columns=6)) == 2
    result = run_experiment(experiment, max_columns=6)
    assert result.records.shape[2] == 12
    expected = np.repeat([200.0, 100.0, 50.0, 25.0], 3)
    assert result.channel("burned")[0] == pytest.approx(expected, rel=1e-6)


def test_progress_counts_simulated_days() -> None:
    seen: list[int] = []
    spec = steady_scenario(
        days=300, runs=2, sweep=SweepSpec(kind="grid", values={"price.initial": [1.0, 2.0]})
    )
    run_experiment(prepare_experiment(spec), progress=seen.append, max_columns=2)
    assert sum(seen) == 2 * 300
