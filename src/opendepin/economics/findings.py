"""The numbers a sustainability report states, computed from one parameter set's runs.

Each finding answers a question analysts and newcomers ask of a token model: who pays and for what,
revenue vs incentives and the burn/mint ratio, when (if ever) burns cover mints, how the reward policy moved
the device pool from coverage to usage, how long a contributor needs to recover the hardware, and the
thresholds that break the model: the demand needed for burns to cover mints at the current price
(D* = P·M) and the token price below which a device no longer covers its operating cost
(P_be = opex ÷ tokens per device per day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

from opendepin.economics.model import SimulationResult
from opendepin.economics.spec import DAYS_PER_YEAR, HalvingSchedule, ScenarioSpec

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Spread:
    """Median and the p5–p95 range across runs."""

    p5: float
    median: float
    p95: float

    @classmethod
    def of(cls, values: FloatArray) -> Spread:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return cls(np.nan, np.nan, np.nan)
        p5, median, p95 = np.percentile(finite, [5, 50, 95])
        return cls(float(p5), float(median), float(p95))


@dataclass(frozen=True)
class DeviceFindings:
    name: str
    hardware_cost_usd: float
    opex_usd_per_day: float
    payback_days: Spread
    never_share: float
    roi_1y: Spread
    break_even_price: float
    start: float
    peak: Spread
    end: Spread


@dataclass(frozen=True)
class Findings:
    """Everything the report states for one parameter set."""

    spec: ScenarioSpec
    runs: int
    years: float
    first_year_ratio: Spread
    last_year_ratio: Spread
    last_year_revenue: Spread
    last_year_incentives: Spread
    sustainable_share: float
    sustainable_from_days: Spread
    equilibrium_price: Spread
    final_price: Spread
    demand_needed_usd: Spread
    supply_start: float
    supply_end: Spread
    minted_total: Spread
    burned_total: Spread
    exhausted_share: float
    halted_days: Spread
    halvings_at_years: tuple[float, ...]
    devices: tuple[DeviceFindings, ...]
    last_year_demand: dict[str, Spread]
    policy: PolicyFindings


@dataclass(frozen=True)
class PolicyFindings:
    """How the reward policy divided the device pool: usage ratio and weight in the first and last year,
    usage's share of what devices were paid (None without device types), and tokens left unminted."""

    first_year_ratio: Spread
    last_year_ratio: Spread
    first_year_weight: Spread
    last_year_weight: Spread
    last_year_usage_share: Spread | None
    unminted_total: Spread | None


def _year_mean(values: FloatArray, result: SimulationResult, first: bool) -> FloatArray:
    """Mean per day over the first or the last (up to) 365 days, per run."""
    days = result.record_days
    keep = days <= min(DAYS_PER_YEAR, result.days) if first else days > result.days - DAYS_PER_YEAR
    weights = result.window_days[keep][:, None]
    return (values[keep] * weights).sum(axis=0) / weights.sum()


def _ratio(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1.0), np.nan)


def _policy_findings(
    result: SimulationResult, m: dict[str, FloatArray], rows: pl.DataFrame
) -> PolicyFindings:
    paid = "usage_paid" in m
    share = None
    if paid:
        usage = _year_mean(m["usage_paid"], result, first=False)
        coverage = _year_mean(m["coverage_paid"], result, first=False)
        share = Spread.of(_ratio(usage, usage + coverage))
    return PolicyFindings(
        first_year_ratio=Spread.of(_year_mean(m["usage_ratio"], result, first=True)),
        last_year_ratio=Spread.of(_year_mean(m["usage_ratio"], result, first=False)),
        first_year_weight=Spread.of(rows["first_year_usage_weight"].to_numpy()),
        last_year_weight=Spread.of(rows["last_year_usage_weight"].to_numpy()),
        last_year_usage_share=share,
        unminted_total=Spread.of(rows["total_unminted"].to_numpy()) if paid else None,
    )


def _halvings(spec: ScenarioSpec) -> tuple[float, ...]:
    if not isinstance(spec.emission, HalvingSchedule):
        return ()
    period = spec.emission.halving_period_days
    first = (np.floor(spec.start_day / period) + 1) * period - spec.start_day
    return tuple(float(d / DAYS_PER_YEAR) for d in np.arange(first, spec.days, period))


def _device_findings(
    result: SimulationResult,
    metrics: dict[str, FloatArray],
    rows: pl.DataFrame,
    columns: slice,
    spec: ScenarioSpec,
) -> tuple[DeviceFindings, ...]:
    found = []
    for device in spec.devices:
        counts = metrics[f"devices[{device.name}]"][:, columns]
        tokens = result.channel(f"tokens_per_device[{device.name}]")[:, columns]
        last_tokens = _year_mean(tokens, result, first=False)
        payback = rows[f"payback_days[{device.name}]"].to_numpy()
        found.append(
            DeviceFindings(
                name=device.name,
                hardware_cost_usd=device.hardware_cost_usd,
                opex_usd_per_day=device.opex_usd_per_day,
                payback_days=Spread.of(payback),
                never_share=float(np.mean(~np.isfinite(payback))),
                roi_1y=Spread.of(rows[f"roi_1y[{device.name}]"].to_numpy()),
                break_even_price=float(
                    np.nanmedian(_ratio(np.full_like(last_tokens, device.opex_usd_per_day), last_tokens))
                ),
                start=float(device.initial),
                peak=Spread.of(counts.max(axis=0)),
                end=Spread.of(counts[-1]),
            )
        )
    return tuple(found)


def compute_findings(
    result: SimulationResult, metrics: dict[str, FloatArray], summary: pl.DataFrame, set_index: int = 0
) -> Findings:
    """The report's numbers for parameter set `set_index`."""
    spec = result.variants[set_index]
    columns = slice(set_index * result.runs, (set_index + 1) * result.runs)
    rows = summary.filter(pl.col("set") == set_index)
    m = {name: values[:, columns] for name, values in metrics.items()}
    minted_last, burned_last = _year_mean(m["minted"], result, False), _year_mean(m["burned"], result, False)
    minted_first, burned_first = _year_mean(m["minted"], result, True), _year_mean(m["burned"], result, True)
    price_last = _year_mean(m["price"], result, False)
    supply_end = m["supply"][-1]
    minted_total = rows["total_minted"].to_numpy()
    sustainable = rows["sustainable_from_day"].to_numpy()
    exhausted = rows["exhausted"].to_numpy()
    demand = {
        sector.name: Spread.of(
            _year_mean(result.channel(f"demand_usd[{sector.name}]")[:, columns], result, False)
        )
        for sector in spec.sectors
    }
    return Findings(
        spec=spec,
        runs=result.runs,
        years=result.days / DAYS_PER_YEAR,
        first_year_ratio=Spread.of(_ratio(burned_first, minted_first)),
        last_year_ratio=Spread.of(_ratio(burned_last, minted_last)),
        last_year_revenue=Spread.of(rows["last_year_revenue_usd_per_day"].to_numpy()),
        last_year_incentives=Spread.of(rows["last_year_incentives_usd_per_day"].to_numpy()),
        sustainable_share=float(np.mean(np.isfinite(sustainable))),
        sustainable_from_days=Spread.of(sustainable),
        equilibrium_price=Spread.of(rows["last_year_equilibrium_price"].to_numpy()),
        final_price=Spread.of(m["price"][-1]),
        demand_needed_usd=Spread.of(price_last * minted_last),
        supply_start=spec.token.initial_supply,
        supply_end=Spread.of(supply_end),
        minted_total=Spread.of(minted_total),
        burned_total=Spread.of(rows["total_burned"].to_numpy()),
        exhausted_share=float(np.mean(exhausted)),
        halted_days=Spread.of(rows["oracle_halted_days"].to_numpy()),
        halvings_at_years=_halvings(spec),
        devices=_device_findings(result, metrics, rows, columns, spec),
        last_year_demand=demand,
        policy=_policy_findings(result, m, rows),
    )
