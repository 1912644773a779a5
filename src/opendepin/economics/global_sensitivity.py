"""Which inputs drive a verdict: variance-based global sensitivity (Sobol indices, with SALib) and a tornado
chart.

The inputs are numbers of a scenario (dotted paths, as `--set` takes them) drawn together over ranges by
Saltelli's scheme (SALib `sample.sobol`, N × (D + 2) parameter sets for D inputs); every set is simulated
with the same `runs` Monte Carlo runs (common random numbers: the sets share their random paths, so the
differences between sets are the inputs', not the noise's). The outcome of a set is the median over its
runs of a per-run figure (by default the last-year burn/mint ratio; runs that ran out of supply count as
they are: their burns were capped). SALib's `analyze.sobol` then gives, per input, the first-order index
S1 (the share of the outcome's variance the input explains alone) and the total index ST (alone and with
others), each with its bootstrap 95 % confidence half-width. An input with ST near 0 does not matter over
its range; a verdict whose ST is all one input restates that input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.economics.metrics import compute_run_summary
from opendepin.economics.model import simulate
from opendepin.economics.scenarios import with_overrides
from opendepin.economics.spec import ScenarioSpec

FloatArray = NDArray[np.float64]
OUTCOMES = {
    "last_year_burn_mint_ratio": "last-year burn/mint ratio (median over runs)",
    "final_price": "final token price, USD (median over runs)",
    "final_devices": "devices at the end (median over runs)",
}
UNCERTAIN_CONF = 0.25
"""Confidence half-width of an index above which the text warns that the design is too small."""
DEFAULT_SPREAD = 0.5
"""Default range of an input: its value × (1 − spread) to × (1 + spread), fractions kept within [0, 1]."""


@dataclass(frozen=True)
class SobolResult:
    """Indices per input (rows sorted by ST, largest first), the outcome per parameter set, and the design."""

    outcome: str
    table: pl.DataFrame
    outcomes: FloatArray
    design: FloatArray
    names: tuple[str, ...]
    runs: int
    base_samples: int


def _value_at(spec: ScenarioSpec, dotted: str) -> float:
    node: object = spec.model_dump()
    for part in dotted.split("."):
        if isinstance(node, list):
            node = next(item for item in node if isinstance(item, dict) and item.get("name") == part)
        elif isinstance(node, dict):
            node = node[part]
        else:
            raise KeyError(dotted)
    return float(node)  # type: ignore[arg-type]


def default_inputs(spec: ScenarioSpec) -> dict[str, tuple[float, float]]:
    """The inputs a burn/mint verdict usually rests on, ±50 % around the scenario's values: the selling
    rule's parameters (or the fixed sell share), each device type's operating cost, the first sector's
    demand, and the market's depth."""
    paths: list[str] = []
    if spec.price.kind == "market":
        if spec.selling.rule == "fixed":
            paths.append("price.sell_fraction")
        else:
            paths += ["selling.cover_costs", "selling.max_hold", "selling.hurdle_per_year"]
        paths.append("price.depth_usd")
    paths += [f"devices.{d.name}.opex_usd_per_day" for d in spec.devices]
    paths.append(f"sectors.{spec.sectors[0].name}.initial_usd_per_day")
    ranges = {}
    fractions = {"price.sell_fraction", "selling.cover_costs", "selling.max_hold"}
    for path in paths:
        value = _value_at(spec, path)
        low, high = value * (1 - DEFAULT_SPREAD), value * (1 + DEFAULT_SPREAD)
        if path in fractions:
            low, high = max(low, 0.0), min(high, 1.0)
        if value < 0:
            low, high = high, low
        if high > low:
            ranges[path] = (low, high)
    return ranges


def compute_sobol(
    spec: ScenarioSpec,
    inputs: Mapping[str, tuple[float, float]],
    *,
    base_samples: int = 32,
    runs: int = 16,
    seed: int = 0,
    outcome: str = "last_year_burn_mint_ratio",
) -> SobolResult:
    """First-order and total Sobol indices of `outcome` to `inputs` (path → (low, high)) over `spec`."""
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r}: one of {', '.join(OUTCOMES)}")
    names = tuple(inputs)
    if len(names) < 2:
        raise ValueError("global sensitivity needs at least two inputs")
    problem = {"num_vars": len(names), "names": list(names), "bounds": [list(inputs[n]) for n in names]}
    design = sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    variants = tuple(with_overrides(spec, dict(zip(names, map(float, row), strict=True))) for row in design)
    result = simulate(variants, runs, seed=seed)
    summary = compute_run_summary(result)
    column = outcome if outcome in summary.columns else None
    if column is None:
        raise ValueError(f"outcome {outcome!r} is not computed for this scenario (no devices?)")
    values = summary[column].to_numpy().reshape(len(variants), runs)
    outcomes = np.nanmedian(np.where(np.isfinite(values), values, np.nan), axis=1)
    indices = sobol_analyze.analyze(
        problem, outcomes, calc_second_order=False, seed=seed, print_to_console=False
    )
    table = pl.DataFrame(
        {
            "input": list(names),
            "low": [inputs[n][0] for n in names],
            "high": [inputs[n][1] for n in names],
            "S1": np.asarray(indices["S1"], dtype=np.float64),
            "S1_conf": np.asarray(indices["S1_conf"], dtype=np.float64),
            "ST": np.asarray(indices["ST"], dtype=np.float64),
            "ST_conf": np.asarray(indices["ST_conf"], dtype=np.float64),
        }
    ).sort("ST", descending=True)
    design_array = np.asarray(design, dtype=np.float64)
    return SobolResult(outcome, table, outcomes, design_array, names, runs, base_samples)


def plot_tornado(result: SobolResult, path: Path) -> Path:
    """Horizontal bars of ST (and S1 inside), largest on top, with the confidence half-widths."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    table = result.table.reverse()  # largest at the top of the chart
    fig = Figure(figsize=(8, 1.2 + 0.5 * table.height), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    y = np.arange(table.height)
    ax.barh(y, table["ST"].to_numpy(), xerr=table["ST_conf"].to_numpy(), color="#4c72b0", label="total (ST)")
    ax.barh(y, table["S1"].to_numpy(), height=0.4, color="#dd8452", label="first order (S1)")
    ax.set_yticks(
        y, [f"{n} [{lo:.3g}, {hi:.3g}]" for n, lo, hi in table.select("input", "low", "high").rows()]
    )
    ax.set_xlabel(f"Sobol index of the {OUTCOMES[result.outcome]}")
    ax.set_xlim(left=0)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    return path


def describe_sobol(result: SobolResult) -> str:
    """The finding in words: which inputs drive the outcome, and whether one alone does."""
    rows = result.table.rows(named=True)
    top = rows[0]
    spread = f"{np.nanmin(result.outcomes):.3g} to {np.nanmax(result.outcomes):.3g}"
    parts = [f"{r['input']} ST {r['ST']:.2f} ± {r['ST_conf']:.2f} (S1 {r['S1']:.2f})" for r in rows]
    text = (
        f"Over {len(result.outcomes)} parameter sets × {result.runs} runs the {OUTCOMES[result.outcome]} "
        f"ranges {spread}. Sobol indices: " + "; ".join(parts) + "."
    )
    others = sum(max(r["ST"], 0.0) for r in rows[1:])
    if top["ST"] >= 0.9 and others < 0.1:
        text += f" The outcome is essentially {top['input']} alone: a verdict on it restates that input."
    else:
        text += f" No single input decides it; {top['input']} matters most."
    widest = max(r["ST_conf"] for r in rows)
    if widest > UNCERTAIN_CONF:
        text += (
            f" These indices are uncertain (confidence half-widths up to {widest:.2f}): raise the samples "
            f"(N = {result.base_samples} here) before relying on them."
        )
    return text
