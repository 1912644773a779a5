"""Experiments: Monte Carlo runs of every parameter set of a scenario, in batches that fit in memory.

Parameter sets are simulated together as columns of one vectorised batch (:mod:`.batch`). A sweep with
more columns than `max_columns` is split into chunks of whole parameter sets, each with its own random
stream spawned from the experiment seed: results are reproducible for a given seed and chunk size (a
different chunk size draws different, equally valid, random streams). Progress is reported in simulated
days.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from opendepin.economics.channels import choose_record_every
from opendepin.economics.model import ProgressCallback, SimulationResult, layout_for, simulate
from opendepin.economics.spec import DAYS_PER_YEAR, ScenarioSpec
from opendepin.economics.sweeps import ParameterSet, expand_sweep

MAX_COLUMNS = 20_000


@dataclass(frozen=True)
class Experiment:
    """A scenario, its parameter sets and how many seeded runs each gets."""

    scenario: ScenarioSpec
    variants: tuple[ScenarioSpec, ...]
    parameter_sets: list[ParameterSet] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.scenario.runs

    @property
    def days(self) -> int:
        return self.scenario.days

    def chunks(self, max_columns: int = MAX_COLUMNS) -> list[tuple[ScenarioSpec, ...]]:
        """Consecutive groups of parameter sets with at most `max_columns` columns (≥ one set each)."""
        per_chunk = max(1, max_columns // self.runs)
        return [self.variants[i : i + per_chunk] for i in range(0, len(self.variants), per_chunk)]


def prepare_experiment(
    scenario: ScenarioSpec, *, runs: int | None = None, years: float | None = None, seed: int | None = None
) -> Experiment:
    """Apply command-line choices (runs, horizon in years, seed) and expand the sweep."""
    update: dict[str, object] = {}
    if runs is not None:
        update["runs"] = runs
    if years is not None:
        update["days"] = max(1, round(years * DAYS_PER_YEAR))
    if seed is not None:
        update["seed"] = seed
    spec = ScenarioSpec.model_validate({**scenario.model_dump(), **update}) if update else scenario
    variants, sets = expand_sweep(spec)
    return Experiment(spec, variants, sets)


def run_experiment(
    experiment: Experiment, progress: ProgressCallback | None = None, max_columns: int = MAX_COLUMNS
) -> SimulationResult:
    """Simulate every chunk and join the columns (set order kept)."""
    chunks = experiment.chunks(max_columns)
    seeds = np.random.SeedSequence(experiment.scenario.seed).generate_state(len(chunks))
    total_columns = len(experiment.variants) * experiment.runs
    every = choose_record_every(experiment.days, total_columns, len(layout_for(experiment.variants).recorded))
    parts = [
        simulate(chunk, experiment.runs, seed=int(seed), record_every=every, progress=progress)
        for chunk, seed in zip(chunks, seeds, strict=True)
    ]
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    return SimulationResult(
        variants=experiment.variants,
        runs=experiment.runs,
        days=first.days,
        every=first.every,
        layout=first.layout,
        records=np.concatenate([part.records for part in parts], axis=2),
        ends=first.ends,
    )
