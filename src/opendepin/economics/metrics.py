"""Sustainability metrics per step and per run.

Per step: supply, minted, burned, net emissions N = M − B, burn/mint ratio B/M, USD revenue (demand served
through burned credits) vs USD value of incentives (M · P), earnings = revenue − incentives, equilibrium
price estimate P* = D / M, the reward policy's usage ratio and weight and what it paid to usage and to
coverage, device count, joins, leaves and churn, expected payback per device type.
Per run: totals, when (if ever) the token model turns sustainable, and each device type's realised payback
(hardware cost ÷ (daily reward · P − daily opex), accumulated from day 0) and one-year ROI.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.economics.bme import compute_burn_mint_ratio, compute_equilibrium_price
from opendepin.economics.devices import compute_payback_days
from opendepin.economics.model import SimulationResult
from opendepin.economics.spec import BASIS_POINTS

FloatArray = NDArray[np.float64]
QUANTILES = (5, 25, 50, 75, 95)
SUSTAINABLE_WINDOW_DAYS = 30
DAYS_PER_YEAR = 365


def _device_param(result: SimulationResult, name: str, field: str) -> FloatArray:
    """A device type's parameter per column, shape (N,)."""
    values = [float(getattr(next(d for d in v.devices if d.name == name), field)) for v in result.variants]
    return np.repeat(np.array(values), result.runs)


def _set_param(result: SimulationResult, get: str) -> FloatArray:
    """A scenario number per column, e.g. `token.max_supply`."""
    values = []
    for variant in result.variants:
        value: object = variant
        for part in get.split("."):
            value = getattr(value, part)
        values.append(float(value))  # type: ignore[arg-type]
    return np.repeat(np.array(values), result.runs)


def _set_param_share(result: SimulationResult, category: str) -> FloatArray:
    """A reward category's share of every mint per column (basis points / 10,000)."""
    shares = [v.rewards.categories.get(category, 0) / BASIS_POINTS for v in result.variants]
    return np.repeat(np.array(shares, dtype=np.float64), result.runs)


def compute_step_metrics(result: SimulationResult) -> dict[str, FloatArray]:
    """Every per-step metric, shape (points, N); flows are means per day over each recorded window."""
    minted, burned = result.channel("minted"), result.channel("burned")
    revenue, incentives = result.channel("served_usd"), result.channel("incentives_usd")
    price = result.channel("price")
    metrics = {
        "supply": result.channel("supply"),
        "minted": minted,
        "burned": burned,
        "net_emissions": minted - burned,
        "burn_mint_ratio": compute_burn_mint_ratio(burned, minted),
        "price": price,
        "oracle_price": result.channel("oracle_price"),
        "fdv_usd": price * _set_param(result, "token.max_supply"),
        "demand_usd": result.channel("demand_usd"),
        "revenue_usd": revenue,
        "incentives_usd": incentives,
        "earnings_usd": revenue - incentives,
        "equilibrium_price": compute_equilibrium_price(revenue, minted),
        "credits": revenue / _set_param(result, "burn_mint.credit_usd"),
        "halted": result.channel("halted"),
        "remint": result.channel("remint"),
        "usage_ratio": result.channel("usage_ratio"),
        "usage_weight": result.channel("usage_weight"),
    }
    names = result.layout.device_names
    if names:
        usage, coverage = result.channel("usage_paid"), result.channel("coverage_paid")
        metrics["usage_paid"] = usage
        metrics["coverage_paid"] = coverage
        metrics["unminted"] = result.channel("unminted")
        with np.errstate(divide="ignore", invalid="ignore"):
            metrics["usage_share_of_pay"] = np.where(usage + coverage > 0, usage / (usage + coverage), np.nan)
        totals = {
            kind: np.sum(np.stack([result.channel(f"{kind}[{n}]") for n in names]), axis=0)
            for kind in ("devices", "joins", "leaves")
        }
        metrics["devices"] = totals["devices"]
        metrics["joins"] = totals["joins"]
        metrics["leaves"] = totals["leaves"]
        with np.errstate(divide="ignore", invalid="ignore"):
            metrics["churn"] = np.where(totals["devices"] > 0, totals["leaves"] / totals["devices"], 0.0)
    for name in names:
        earnings = result.channel(f"earnings_usd_per_device[{name}]")
        metrics[f"devices[{name}]"] = result.channel(f"devices[{name}]")
        metrics[f"earnings_usd_per_device[{name}]"] = earnings
        metrics[f"payback_days[{name}]"] = compute_payback_days(
            _device_param(result, name, "hardware_cost_usd"),
            earnings,
            _device_param(result, name, "opex_usd_per_day"),
        )
    return metrics


def compute_sustainable_from(result: SimulationResult, minted: FloatArray, burned: FloatArray) -> FloatArray:
    """First day from which burns cover mints (30-day sums, N ≤ 0) until the horizon; NaN if never."""
    width = max(1, round(SUSTAINABLE_WINDOW_DAYS / result.every))
    weights = result.window_days[:, None]

    def rolling(values: FloatArray) -> FloatArray:
        total = np.cumsum(values * weights, axis=0)
        shifted = np.vstack([np.zeros((width, total.shape[1])), total[:-width]])[: total.shape[0]]
        return total - shifted

    covered = rolling(burned) >= rolling(minted)
    # Index of the first point after the last uncovered one; covered all the way to the end from there.
    uncovered_after = covered.shape[0] - np.argmax(~covered[::-1], axis=0)
    always = covered.all(axis=0)
    first = np.where(always, 0, uncovered_after)
    days = np.concatenate([[0.0], result.record_days])
    return np.where(first < covered.shape[0], days[np.minimum(first, covered.shape[0])], np.nan)


def compute_realised_payback(result: SimulationResult, name: str) -> tuple[FloatArray, FloatArray]:
    """For a device of type `name` bought on day 0: day its net earnings repay the hardware (NaN if not
    within the horizon) and its one-year ROI = (Σ first-year (earnings − opex) − hardware) / hardware."""
    hardware = _device_param(result, name, "hardware_cost_usd")
    opex = _device_param(result, name, "opex_usd_per_day")
    margin = (result.channel(f"earnings_usd_per_device[{name}]") - opex) * result.window_days[:, None]
    cumulative = np.cumsum(margin, axis=0)
    repaid = cumulative >= hardware
    first = np.argmax(repaid, axis=0)
    starts = result.record_days - result.window_days
    # Within the window where the cumulative margin crosses the hardware cost, interpolate linearly.
    columns = np.arange(margin.shape[1])
    before = np.where(first > 0, cumulative[np.maximum(first - 1, 0), columns], 0.0)
    per_day = margin[first, columns] / result.window_days[first]
    inside = np.where(per_day > 0, (hardware - before) / np.where(per_day > 0, per_day, 1.0), 0.0)
    crossing = starts[first] + np.clip(inside, 0.0, result.window_days[first])
    payback = np.where(repaid.any(axis=0), crossing, np.nan)
    share = np.clip((DAYS_PER_YEAR - starts) / result.window_days, 0.0, 1.0)[:, None]
    first_year = (margin * share).sum(axis=0)
    roi = np.where(
        result.days >= DAYS_PER_YEAR, (first_year - hardware) / np.maximum(hardware, 1e-12), np.nan
    )
    return payback, roi


def _first_year_mean(values: FloatArray, result: SimulationResult) -> FloatArray:
    keep = result.record_days <= min(DAYS_PER_YEAR, result.days)
    keep[0] = True  # a first window longer than a year still counts
    weights = result.window_days[keep][:, None]
    return (values[keep] * weights).sum(axis=0) / weights.sum()


def _last_year_mean(values: FloatArray, result: SimulationResult) -> FloatArray:
    keep = result.record_days > result.days - DAYS_PER_YEAR
    weights = result.window_days[keep][:, None]
    return (values[keep] * weights).sum(axis=0) / weights.sum()


EXHAUSTED_SHARE = 1e-3
"""A run whose supply ends below this share of max(initial supply, tokens minted) ran out."""
UNMET_SHARE = 1e-6
"""A run where users could not burn more than this share of the USD they wanted to pay ran out."""


def compute_exhausted(
    result: SimulationResult, m: dict[str, FloatArray], minted_total: FloatArray
) -> NDArray[np.bool_]:
    """Runs that ran out of supply: demand went unmet because too little circulated to burn, or the supply
    ended (nearly) empty. Their burns were capped, so they are their own outcome, never "sustainable"."""
    days = result.window_days[:, None]
    initial = np.array([v.token.initial_supply for v in result.variants])[result.set_index]
    empty = m["supply"][-1] <= EXHAUSTED_SHARE * np.maximum(initial, minted_total)
    try:
        unmet = (result.channel("unmet_usd") * days).sum(axis=0)
        wanted = (result.channel("demand_usd") * days).sum(axis=0)
    except KeyError:  # a record without these channels (simulate(channels=...))
        return empty
    return empty | (unmet > UNMET_SHARE * np.maximum(wanted, 1e-12))


def compute_run_summary(
    result: SimulationResult, metrics: dict[str, FloatArray] | None = None
) -> pl.DataFrame:
    """One row per (parameter set, run) with totals, sustainability and contributor economics."""
    m = metrics if metrics is not None else compute_step_metrics(result)
    days = result.window_days[:, None]
    minted_total, burned_total = (m["minted"] * days).sum(axis=0), (m["burned"] * days).sum(axis=0)
    last_minted, last_burned = _last_year_mean(m["minted"], result), _last_year_mean(m["burned"], result)
    exhausted = compute_exhausted(result, m, minted_total)
    columns: dict[str, FloatArray | NDArray[np.int64] | NDArray[np.bool_]] = {
        "set": result.set_index,
        "run": np.tile(np.arange(result.runs), result.sets),
        "final_supply": m["supply"][-1],
        "total_minted": minted_total,
        "total_burned": burned_total,
        "final_price": m["price"][-1],
        "last_year_burn_mint_ratio": compute_burn_mint_ratio(last_burned, last_minted),
        "last_year_revenue_usd_per_day": _last_year_mean(m["revenue_usd"], result),
        "last_year_incentives_usd_per_day": _last_year_mean(m["incentives_usd"], result),
        "last_year_equilibrium_price": compute_equilibrium_price(
            _last_year_mean(m["revenue_usd"], result), last_minted
        ),
        "exhausted": exhausted,
        "sustainable_from_day": np.where(
            exhausted, np.nan, compute_sustainable_from(result, m["minted"], m["burned"])
        ),
        "oracle_halted_days": (m["halted"] * days).sum(axis=0),
        "first_year_usage_weight": _first_year_mean(m["usage_weight"], result),
        "last_year_usage_weight": _last_year_mean(m["usage_weight"], result),
    }
    # Categories split the scheduled emission (minted + what the policy left unminted); the device
    # categories are one pool, divided between usage and coverage by the reward policy, not by their splits.
    unminted_total = (result.channel("unminted") * days).sum(axis=0)
    emitted_total = minted_total + unminted_total
    rewards = result.variants[0].rewards
    for category in rewards.categories:
        if category not in rewards.device_categories:
            columns[f"total_minted[{category}]"] = emitted_total * _set_param_share(result, category)
    device_share = sum(_set_param_share(result, c) for c in rewards.device_categories)
    columns["total_minted[devices]"] = emitted_total * device_share - unminted_total
    if "usage_paid" in m:
        columns["total_usage_paid"] = (m["usage_paid"] * days).sum(axis=0)
        columns["total_coverage_paid"] = (m["coverage_paid"] * days).sum(axis=0)
        columns["total_unminted"] = (m["unminted"] * days).sum(axis=0)
    if "devices" in m:
        columns["final_devices"] = m["devices"][-1]
        columns["total_leaves"] = (m["leaves"] * days).sum(axis=0)
    for name in result.layout.device_names:
        payback, roi = compute_realised_payback(result, name)
        columns[f"payback_days[{name}]"] = payback
        columns[f"roi_1y[{name}]"] = roi
        columns[f"final_devices[{name}]"] = m[f"devices[{name}]"][-1]
    return pl.DataFrame(columns)


def compute_nearest_rank(values: FloatArray, quantiles: tuple[int, ...]) -> FloatArray:
    """Nearest-rank percentiles along axis 1; NaN counts as +inf (a payback that never happens)."""
    ordered = np.sort(np.where(np.isnan(values), np.inf, values), axis=1)
    ranks = np.rint(np.array(quantiles) / 100.0 * (values.shape[1] - 1)).astype(np.int64)
    return ordered[:, ranks].T


def compute_percentiles(
    result: SimulationResult, metrics: dict[str, FloatArray], quantiles: tuple[int, ...] = QUANTILES
) -> pl.DataFrame:
    """Long table (set, day, metric, mean, p5 … p95) across the runs of each parameter set.

    The mean is over finite values only, and `finite_share` says what share of runs that is (a payback
    mean of 0.4 of the runs is not the mean payback); percentiles treat NaN/inf as +inf (never), see
    nearest rank.
    """
    frames = []
    days = result.record_days
    for s in range(result.sets):
        columns = slice(s * result.runs, (s + 1) * result.runs)
        for name, values in metrics.items():
            block = values[:, columns]
            finite = np.isfinite(block)
            count = finite.sum(axis=1)
            total = np.where(finite, block, 0.0).sum(axis=1)
            mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
            qs = compute_nearest_rank(block, quantiles)
            frame = {
                "set": np.full(days.shape, s),
                "day": days,
                "metric": [name] * len(days),
                "mean": mean,
                "finite_share": count / block.shape[1],
            }
            frame.update({f"p{q}": qs[i] for i, q in enumerate(quantiles)})
            frames.append(pl.DataFrame(frame))
    return pl.concat(frames)
