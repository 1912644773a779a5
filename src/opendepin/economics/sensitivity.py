"""Which swept parameter moves the outcome: Spearman rank correlation across parameter sets.

ρ is the Pearson correlation of average ranks (ties share their mean rank) between a parameter's value
in each set and the set's median outcome; ±1 means the outcome moves monotonically with the parameter.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.economics.sweeps import ParameterSet

FloatArray = NDArray[np.float64]
MIN_SETS = 3


def compute_rank_correlation(x: FloatArray, y: FloatArray) -> float:
    """Spearman's ρ over finite pairs; NaN when fewer than 3 pairs or either side is constant."""
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < MIN_SETS:
        return float("nan")
    rx = pl.Series(x[keep]).rank("average").to_numpy().astype(np.float64)
    ry = pl.Series(y[keep]).rank("average").to_numpy().astype(np.float64)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def compute_set_outcomes(summary: pl.DataFrame, sets: int) -> dict[str, FloatArray]:
    """Per parameter set: median last-year burn/mint ratio, share of runs sustainable, median paybacks."""
    outcomes: dict[str, list[float]] = {"last-year burn/mint": [], "runs sustainable": []}
    paybacks = [c for c in summary.columns if c.startswith("payback_days[")]
    for column in paybacks:
        outcomes[column] = []
    for s in range(sets):
        part = summary.filter(pl.col("set") == s)
        outcomes["last-year burn/mint"].append(
            float(np.nanmedian(part["last_year_burn_mint_ratio"].to_numpy()))
        )
        outcomes["runs sustainable"].append(
            float(np.mean(np.isfinite(part["sustainable_from_day"].to_numpy())))
        )
        for column in paybacks:
            values = part[column].to_numpy()
            outcomes[column].append(float(np.median(np.where(np.isfinite(values), values, np.inf))))
    return {name: np.array(values) for name, values in outcomes.items()}


def compute_sensitivity(parameter_sets: list[ParameterSet], summary: pl.DataFrame) -> pl.DataFrame:
    """One row per swept parameter, one ρ column per outcome (empty without a sweep of ≥ 3 sets)."""
    if len(parameter_sets) < MIN_SETS:
        return pl.DataFrame()
    outcomes = compute_set_outcomes(summary, len(parameter_sets))
    names = sorted({name for changes in parameter_sets for name in changes})
    rows = []
    for name in names:
        values = np.array([changes.get(name, np.nan) for changes in parameter_sets], dtype=np.float64)
        row: dict[str, object] = {"parameter": name}
        for outcome, per_set in outcomes.items():
            row[outcome] = compute_rank_correlation(values, np.where(np.isinf(per_set), np.nan, per_set))
        rows.append(row)
    return pl.DataFrame(rows)
