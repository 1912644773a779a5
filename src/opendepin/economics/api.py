"""The modellers' entry point: run a scenario and get tidy DataFrames.

    from opendepin.economics import run

    results = run("growth", runs=200, years=5, overrides={"selling.max_hold": 0.5})
    results.steps            # polars: one row per (set, run, day), one column per channel / metric
    results.runs             # polars: one row per (set, run): totals, sustainability, paybacks
    results.steps.to_pandas()  # pandas, when you prefer it
    results.write("out/")    # Parquet tables and scenario.json (the scenario as simulated) side by side

`policies` replaces built-in decisions with plain functions (:class:`.custom.Policies`); a sweep in the
scenario (or `sweep=`) gives several parameter sets, the `set` column and `results.sets`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from opendepin.economics.custom import Policies
from opendepin.economics.metrics import compute_run_summary, compute_step_metrics
from opendepin.economics.model import SimulationResult, simulate
from opendepin.economics.scenarios import load_scenario, with_overrides
from opendepin.economics.spec import ScenarioSpec, SweepSpec
from opendepin.economics.sweeps import expand_sweep
from opendepin.economics.tables import build_paths_table, build_sets_table


@dataclass(frozen=True)
class Results:
    """A run's tidy tables and the scenario exactly as simulated."""

    scenario: ScenarioSpec
    result: SimulationResult
    steps: pl.DataFrame
    runs: pl.DataFrame
    sets: pl.DataFrame

    def write(self, out: Path | str) -> dict[str, Path]:
        """steps.parquet, runs.parquet, sets.parquet and scenario.json in `out`."""
        target = Path(out)
        target.mkdir(parents=True, exist_ok=True)
        files = {name: target / f"{name}.parquet" for name in ("steps", "runs", "sets")}
        self.steps.write_parquet(files["steps"])
        self.runs.write_parquet(files["runs"])
        self.sets.write_parquet(files["sets"])
        files["scenario"] = target / "scenario.json"
        files["scenario"].write_text(self.scenario.model_dump_json(indent=2))
        return files


def run(
    scenario: str | Path | ScenarioSpec,
    *,
    runs: int | None = None,
    years: float | None = None,
    seed: int | None = None,
    overrides: Mapping[str, float] | None = None,
    sweep: SweepSpec | None = None,
    policies: Policies | None = None,
    record_every: int | None = None,
) -> Results:
    """Simulate a scenario (a shipped name, a .toml path or a spec) and return tidy tables."""
    spec = scenario if isinstance(scenario, ScenarioSpec) else load_scenario(scenario)
    if overrides:
        spec = with_overrides(spec, overrides)
    update: dict[str, object] = {}
    if runs is not None:
        update["runs"] = runs
    if years is not None:
        update["days"] = max(1, round(years * 365))
    if seed is not None:
        update["seed"] = seed
    if sweep is not None:
        update["sweep"] = sweep
    spec = ScenarioSpec.model_validate({**spec.model_dump(), **update}) if update else spec
    variants, changes = expand_sweep(spec)
    result = simulate(variants, spec.runs, seed=spec.seed, policies=policies, record_every=record_every)
    metrics = compute_step_metrics(result)
    channels = {name: result.channel(name) for name in result.layout.names}  # recorded and aliases
    steps = build_paths_table(result, {**channels, **metrics})
    return Results(spec, result, steps, compute_run_summary(result, metrics), build_sets_table(changes))


__all__ = ["Policies", "Results", "run"]
