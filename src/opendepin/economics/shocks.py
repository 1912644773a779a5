"""What a scenario's shocks did to contributors, and what cheaters took: words and a chart for the report.

A shock (a price or a sector's demand multiplied by a factor from a day) is judged by the median run of the
first parameter set: each device type's count over the 30 days before the shock, at its lowest after it and
at the end, and its earnings in USD a day per device over the 90 days before and after. Fraud is what the
sectors' verification lets through (`[sectors.fraud]`): the tokens paid to cheating devices out of the
emission, against everything paid to devices.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from opendepin.economics.document import Block, Bullets, Heading, Image, Paragraph, format_number
from opendepin.economics.model import SimulationResult
from opendepin.economics.spec import ScenarioSpec

FloatArray = NDArray[np.float64]
BEFORE_DAYS = 30
EARNINGS_DAYS = 90


@dataclass(frozen=True)
class Shock:
    """One shock of a scenario, in words."""

    day: int
    what: str
    factor: float
    duration_days: int | None


@dataclass(frozen=True)
class DeviceEffect:
    """A device type through a shock (median run)."""

    name: str
    before: float
    trough: float
    trough_day: float
    end: float
    earnings_before: float
    earnings_after: float


def list_shocks(spec: ScenarioSpec) -> list[Shock]:
    """The price's and the sectors' shocks, by day."""
    shocks = [Shock(s.day, "token price", s.factor, s.duration_days) for s in spec.price.shocks]
    for sector in spec.sectors:
        shocks += [Shock(s.day, f"{sector.name} demand", s.factor, s.duration_days) for s in sector.shocks]
    return sorted(shocks, key=lambda s: s.day)


def _window_mean(days: FloatArray, values: FloatArray, start: float, stop: float) -> float:
    keep = (days > start) & (days <= stop)
    return float(np.nanmean(values[keep])) if keep.any() else float("nan")


def compute_device_effects(
    result: SimulationResult, metrics: dict[str, FloatArray], shock: Shock
) -> list[DeviceEffect]:
    """Each device type's count and earnings around `shock` in the median run of the first set."""
    days = result.record_days
    columns = slice(0, result.runs)
    effects = []
    for name in result.layout.device_names:
        counts = np.median(metrics[f"devices[{name}]"][:, columns], axis=1)
        earnings = np.median(metrics[f"earnings_usd_per_device[{name}]"][:, columns], axis=1)
        after = days > shock.day
        trough_at = int(np.argmin(np.where(after, counts, np.inf))) if after.any() else len(days) - 1
        effects.append(
            DeviceEffect(
                name=name,
                before=_window_mean(days, counts, shock.day - BEFORE_DAYS, shock.day),
                trough=float(counts[trough_at]),
                trough_day=float(days[trough_at]),
                end=float(counts[-1]),
                earnings_before=_window_mean(days, earnings, shock.day - EARNINGS_DAYS, shock.day),
                earnings_after=_window_mean(days, earnings, shock.day, shock.day + EARNINGS_DAYS),
            )
        )
    return effects


def plot_shocks(
    result: SimulationResult, metrics: dict[str, FloatArray], shocks: list[Shock], out: Path
) -> Path:
    """Median device counts (left) and earnings per device (right) with the shocks marked."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), dpi=100)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    days = result.record_days
    columns = slice(0, result.runs)
    for name in result.layout.device_names:
        left.plot(days, np.median(metrics[f"devices[{name}]"][:, columns], axis=1), label=name)
        right.plot(
            days, np.median(metrics[f"earnings_usd_per_device[{name}]"][:, columns], axis=1), label=name
        )
    for axis in (left, right):
        for shock in shocks:
            axis.axvline(shock.day, color="red", linestyle="--", linewidth=1)
        axis.set_xlabel("day")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    left.set_title("Devices (median run); shocks dashed")
    right.set_title("Earnings per device, USD a day (median run)")
    fig.tight_layout()
    path = out / "shock_contributors.png"
    fig.savefig(path)
    return path


def describe_shocks(
    result: SimulationResult, metrics: dict[str, FloatArray], out: Path | None = None
) -> list[Block]:
    """Each shock and what it did to contributors, in words (and the chart when `out` is given)."""
    shocks = list_shocks(result.variants[0])
    if not shocks or not result.layout.device_names:
        return []
    items = []
    for shock in shocks:
        lasting = f"for {shock.duration_days} days" if shock.duration_days else "for good"
        head = f"**{shock.what} × {shock.factor:g} from day {shock.day}** ({lasting})"
        parts = []
        for e in compute_device_effects(result, metrics, shock):
            change = (e.trough - e.before) / e.before if e.before > 0 else float("nan")
            parts.append(
                f"{e.name}: {format_number(e.before)} devices before, {format_number(e.trough)} at the "
                f"lowest (day {e.trough_day:.0f}, {change:+.0%}), {format_number(e.end)} at the end; "
                f"earnings ${format_number(e.earnings_before)} → ${format_number(e.earnings_after)} a day "
                "per device"
            )
        items.append(head + ": " + "; ".join(parts) + ".")
    blocks: list[Block] = [
        Heading(2, "What the shocks did to contributors"),
        Bullets(tuple(items)),
    ]
    if out is not None:
        path = plot_shocks(result, metrics, shocks, out)
        blocks.append(Image(path.name, "devices and earnings through the shocks"))
    return blocks


def describe_fraud(result: SimulationResult) -> list[Block]:
    """What cheaters took, per the sectors' verification figures (or that they are not known)."""
    spec = result.variants[0]
    if not spec.devices:
        return []
    columns = slice(0, result.runs)
    days = result.window_days[:, None]
    cheaters = (result.channel("cheater_paid")[:, columns] * days).sum(axis=0)
    paid = ((result.channel("coverage_paid") + result.channel("usage_paid"))[:, columns] * days).sum(axis=0)
    lines = []
    for sector in spec.sectors:
        fraud = sector.fraud
        if fraud is None:
            lines.append(
                f"{sector.name}: **not known** (no `[sectors.fraud]` figures): no leakage is modelled, so "
                "every token paid here is assumed to reach honest devices."
            )
            continue
        source = f" ({fraud.source})" if fraud.source else ""
        rules = (
            f", {fraud.rules_only_leakage:.1%} with the sector's rules alone"
            if fraud.rules_only_leakage is not None
            else ""
        )
        lines.append(
            f"{sector.name}{source}: verification lets {fraud.leakage:.1%} of coverage pay through to "
            f"cheaters{rules}; {fraud.false_positive_rate:.1%} of honest devices are wrongly denied pay in "
            f"an epoch; cheaters are {fraud.adversary_share:.1%} of the simulated fleet."
        )
    total = float(np.median(cheaters))
    share = float(np.median(np.where(paid > 0, cheaters / np.maximum(paid, 1e-12), 0.0)))
    summary = (
        f"Paid to cheaters over the horizon: {format_number(total)} tokens in the median run, {share:.1%} of "
        "what devices were paid (sold at once: it adds to the sell pressure)."
    )
    if all(sector.fraud is None for sector in spec.sectors):
        return [Heading(2, "Fraud"), Bullets(tuple(lines))]
    return [Heading(2, "Fraud"), Paragraph(summary), Bullets(tuple(lines))]
