"""Results as Parquet tables: percentiles per step, one summary row per run, the parameter sets, and
(when small enough) every run's path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.economics.model import SimulationResult
from opendepin.economics.sweeps import ParameterSet

FloatArray = NDArray[np.float64]
MAX_PATH_ROWS = 400_000


def build_paths_table(result: SimulationResult, metrics: dict[str, FloatArray]) -> pl.DataFrame:
    """Long-by-run table: one row per (set, run, day), one column per metric."""
    points, columns = result.records.shape[0], result.records.shape[2]
    table: dict[str, object] = {
        "set": np.repeat(result.set_index, points),
        "run": np.repeat(np.tile(np.arange(result.runs), result.sets), points),
        "day": np.tile(result.record_days, columns),
    }
    for name, values in metrics.items():
        table[name] = values.T.reshape(-1)
    return pl.DataFrame(table)


def build_sets_table(parameter_sets: list[ParameterSet]) -> pl.DataFrame:
    """One row per parameter set with the values it changes."""
    names = sorted({name for changes in parameter_sets for name in changes})
    data: dict[str, list[float | int | None]] = {"set": list(range(len(parameter_sets)))}
    for name in names:
        data[name] = [changes.get(name) for changes in parameter_sets]
    return pl.DataFrame(data)


def write_tables(
    out: Path,
    result: SimulationResult,
    metrics: dict[str, FloatArray],
    summary: pl.DataFrame,
    percentiles: pl.DataFrame,
    parameter_sets: list[ParameterSet],
) -> dict[str, Path]:
    """Write percentiles.parquet, summary.parquet, sets.parquet and, if small, paths.parquet."""
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "percentiles": out / "percentiles.parquet",
        "summary": out / "summary.parquet",
        "sets": out / "sets.parquet",
    }
    percentiles.write_parquet(written["percentiles"])
    summary.write_parquet(written["summary"])
    build_sets_table(parameter_sets).write_parquet(written["sets"])
    if result.records.shape[0] * result.records.shape[2] <= MAX_PATH_ROWS:
        written["paths"] = out / "paths.parquet"
        build_paths_table(result, metrics).write_parquet(written["paths"])
    return written
