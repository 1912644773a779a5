"""PNG charts with matplotlib's Agg renderer (Figure objects, no pyplot state): fan charts of Monte Carlo
percentiles (supply, burn vs mint, revenue vs incentives, price, the reward policy's usage weight, devices),
and the payback distribution.

A fan shows the median path with p25–p75 and p5–p95 bands across runs (one parameter set); with several
parameter sets, each set's median is a line of its own.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib as mpl
import numpy as np
import polars as pl
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MAX_SET_LINES = 8


def _series(percentiles: pl.DataFrame, metric: str, set_index: int) -> pl.DataFrame:
    return percentiles.filter((pl.col("metric") == metric) & (pl.col("set") == set_index)).sort("day")


def plot_fan(
    ax: Axes, percentiles: pl.DataFrame, metric: str, label: str, color: str, set_index: int = 0
) -> None:
    """Median line and p25–p75 / p5–p95 bands of `metric` for one parameter set; days on x in years."""
    rows = _series(percentiles, metric, set_index)
    if rows.height == 0:
        return
    years = rows["day"].to_numpy() / 365.0
    bands = {
        q: np.nan_to_num(rows[q].to_numpy(), nan=np.nan, posinf=np.nan)
        for q in ("p5", "p25", "p50", "p75", "p95")
    }
    ax.fill_between(years, bands["p5"], bands["p95"], color=color, alpha=0.15, linewidth=0)
    ax.fill_between(years, bands["p25"], bands["p75"], color=color, alpha=0.3, linewidth=0)
    ax.plot(years, bands["p50"], color=color, label=f"{label} (median, p25–p75, p5–p95)")


def plot_set_medians(ax: Axes, percentiles: pl.DataFrame, metric: str, set_labels: list[str]) -> None:
    """One median line per parameter set (the first MAX_SET_LINES sets)."""
    for s, label in enumerate(set_labels[:MAX_SET_LINES]):
        rows = _series(percentiles, metric, s)
        ax.plot(rows["day"].to_numpy() / 365.0, rows["p50"].to_numpy(), label=label)


def _figure(title: str, ylabel: str) -> tuple[Figure, Axes]:
    fig = Figure(figsize=(8, 4.5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.set_title(title)
    ax.set_xlabel("years")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig: Figure, ax: Axes, path: Path, log: bool = False) -> Path:
    if log:
        ax.set_yscale("log", nonpositive="mask")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    return path


def plot_metrics(
    percentiles: pl.DataFrame, out: Path, set_labels: list[str], device_names: list[str]
) -> dict[str, Path]:
    """supply, burn vs mint, revenue vs incentives, price and device count charts."""
    charts = {
        "supply": ("Circulating supply", "tokens", [("supply", "supply", "tab:blue")], False),
        "burn_vs_mint": (
            "Burn vs mint (tokens a day)",
            "tokens / day",
            [("minted", "minted", "tab:orange"), ("burned", "burned", "tab:green")],
            True,
        ),
        "revenue_vs_incentives": (
            "USD revenue (burned credits) vs USD value of incentives",
            "USD / day",
            [("revenue_usd", "revenue", "tab:green"), ("incentives_usd", "incentives", "tab:red")],
            True,
        ),
        "price": (
            "Token price",
            "USD",
            [("price", "price", "tab:purple"), ("equilibrium_price", "D/M", "tab:gray")],
            True,
        ),
    }
    policy_lines = [("usage_weight", "usage weight w(r)", "tab:blue")]
    charts["usage_weight"] = (
        "Reward policy: usage weight of the device pool (coverage gets the rest)",
        "share of the device pool",
        policy_lines,
        False,
    )
    if device_names:
        colors = mpl.rcParams["axes.prop_cycle"].by_key()["color"]
        lines = [(f"devices[{n}]", n, colors[i % len(colors)]) for i, n in enumerate(device_names)]
        charts["devices"] = ("Devices", "count", lines, False)
    written = {}
    for name, (title, ylabel, lines, log) in charts.items():
        fig, ax = _figure(title, ylabel)
        if len(set_labels) == 1:
            for metric, label, color in lines:
                plot_fan(ax, percentiles, metric, label, color)
        else:
            ax.set_title(f"{title}: median per parameter set ({lines[0][1]})")
            plot_set_medians(ax, percentiles, lines[0][0], set_labels)
        if name == "usage_weight":
            if device_names and len(set_labels) == 1:
                rows = _series(percentiles, "usage_share_of_pay", 0)
                ax.plot(
                    rows["day"].to_numpy() / 365.0,
                    rows["p50"].to_numpy(),
                    color="black",
                    linestyle="--",
                    linewidth=1,
                    label="usage share of device pay (median; below w when the cap binds)",
                )
            ax.set_ylim(-0.02, 1.02)
        written[name] = _save(fig, ax, out / f"{name}.png", log=log)
    return written


def plot_payback(summary: pl.DataFrame, device_names: list[str], horizon_days: int, out: Path) -> Path:
    """Histogram across runs of the day each device type's hardware is paid back (bought on day 0)."""
    fig, ax = _figure("Contributor payback (device bought on day 0)", "runs")
    ax.set_xlabel("days to recover the hardware cost")
    for name in device_names:
        values = summary[f"payback_days[{name}]"].to_numpy()
        done = values[np.isfinite(values)]
        never = int((~np.isfinite(values)).sum())
        label = f"{name} (not within {horizon_days} days: {never} of {len(values)} runs)"
        if done.size:
            ax.hist(done, bins=40, alpha=0.6, label=label)
        else:
            ax.plot([], [], label=label)
    return _save(fig, ax, out / "payback.png")
