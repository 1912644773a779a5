"""The one-page sustainability report (report.md + report.html) and the pipeline that produces it.

It answers in plain words, with the numbers: what service is paid for, who pays, how the reward policy
divides the devices' share between coverage and usage, whether the token model is sustainable and from when,
how long a contributor needs to recover the hardware cost, and what breaks it. Numbers are medians with the
p5–p95 range across runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from opendepin.economics.document import (
    Block,
    Bullets,
    Heading,
    Image,
    Paragraph,
    Table,
    format_number,
    render_html,
    render_markdown,
)
from opendepin.economics.experiments import Experiment, run_experiment
from opendepin.economics.findings import Findings, Spread, compute_findings
from opendepin.economics.metrics import compute_percentiles, compute_run_summary, compute_step_metrics
from opendepin.economics.model import ProgressCallback, SimulationResult
from opendepin.economics.plots import plot_metrics, plot_payback
from opendepin.economics.sensitivity import compute_sensitivity
from opendepin.economics.shocks import describe_fraud, describe_shocks
from opendepin.economics.spec import DAYS_PER_YEAR, ScenarioSpec
from opendepin.economics.tables import write_tables

KEY_METRICS = (
    ("supply", "circulating supply (tokens)"),
    ("minted", "minted (tokens/day)"),
    ("burned", "burned (tokens/day)"),
    ("burn_mint_ratio", "burn/mint ratio"),
    ("revenue_usd", "revenue (USD/day)"),
    ("incentives_usd", "incentives (USD/day)"),
    ("price", "token price (USD)"),
    ("equilibrium_price", "equilibrium price D/M (USD)"),
    ("usage_ratio", "usage ratio r (USD paid ÷ USD minted)"),
    ("usage_weight", "usage weight w(r) of the device pool"),
    ("usage_share_of_pay", "usage share of device pay"),
    ("devices", "devices"),
)


def _spread(s: Spread, unit: str = "") -> str:
    return f"{unit}{format_number(s.median)} ({unit}{format_number(s.p5)}–{unit}{format_number(s.p95)})"


def _days(value: float) -> str:
    if not np.isfinite(value):
        return "never within the horizon"
    return f"{value:.0f} days ({value / DAYS_PER_YEAR:.1f} years)"


def describe_service(f: Findings) -> list[Block]:
    """What service is paid for, and who pays."""
    items = []
    for sector in f.spec.sectors:
        demand = f.last_year_demand[sector.name]
        items.append(
            f"**{sector.service}** ({sector.name}): paid by {sector.payer}; demand starts at "
            f"${format_number(sector.initial_usd_per_day)} a day and is ${_spread(demand)} a day "
            "in the last year."
        )
    splits = ", ".join(
        f"{name} {bp / 100:g} %" + (" (devices)" if name in f.spec.rewards.device_categories else "")
        for name, bp in f.spec.rewards.categories.items()
    )
    how = (
        f"Users pay in USD-priced data credits (1 credit = ${f.spec.burn_mint.credit_usd:g}); to get credits "
        f"they burn {f.spec.token.symbol} at the oracle price (a {f.spec.oracle.twap_days}-day TWAP). "
        f"Contributors are paid by scheduled minting ({f.spec.emission.kind} schedule); "
        f"{f.spec.rewards.device_share:.0%} of every mint goes to devices, divided between coverage and "
        f"usage by the reward policy below. Category splits: {splits}."
    )
    return [Heading(2, "What is paid for, and who pays"), Bullets(tuple(items)), Paragraph(how)]


def _flow_back(share: float) -> str:
    if share >= 1:
        return "goes back to coverage"
    if share <= 0:
        return "is not minted (the network has no flow for it)"
    return f"goes back to coverage for {share:.0%}; the rest is not minted"


def describe_policy(f: Findings) -> list[Block]:
    """The reward policy used, and how it moved the device pool from coverage to usage."""
    usage = f.spec.rewards.usage
    p = f.policy
    share = f"{f.spec.rewards.device_share:.0%}"
    if usage.is_off:
        rule = (
            f"**Reward policy: coverage only.** The usage weight is 0 at every usage ratio (the network's "
            f"sectors meter no usage, or the scenario says so): the devices' {share} of every mint pays "
            "coverage, by weight × count."
        )
    else:
        rule = (
            f"**Reward policy: from coverage to usage.** With r = USD users paid for service ÷ USD value of "
            "the day's mint (both at the oracle price, so r is the burn/mint ratio unless a burn is limited "
            f"by the circulating supply), usage gets the weight {usage.describe()}, of the "
            f"devices' {share} of every mint, and coverage the rest (by weight × count). Usage pay goes to "
            f"devices pro rata to the service they carried, at most {usage.cap:g}× the token value of the "
            f"credits they carried; what that cap leaves, and usage pay no device earned, "
            f"{_flow_back(usage.unused_to_coverage)}."
        )
    text = [
        rule,
        f"In the median run the usage ratio is {_spread(p.first_year_ratio)} in the first year and "
        f"{_spread(p.last_year_ratio)} in the last; the usage weight goes from "
        f"{_spread(p.first_year_weight)} to {_spread(p.last_year_weight)}, so coverage keeps "
        f"{1 - p.first_year_weight.median:.0%} of the device pool in the first year and "
        f"{1 - p.last_year_weight.median:.0%} in the last.",
    ]
    if p.last_year_usage_share is not None:
        paid = (
            f"Usage was {_spread(p.last_year_usage_share)} of what devices were paid in the last year"
            " (below the weight when the cap binds or a sector has no device to earn its usage pay)."
        )
        if p.unminted_total is not None and p.unminted_total.p95 > 0:
            paid += f" {_spread(p.unminted_total)} tokens of usage pay were left unminted."
        text.append(paid)
    return [Heading(2, "Reward policy: coverage and usage"), *[Paragraph(t) for t in text]]


def _when_sustainable(f: Findings) -> str:
    share = f"{f.sustainable_share:.0%} of runs"
    if f.sustainable_share == 0:
        return "in none of the runs within the horizon"
    from_day = _days(f.sustainable_from_days.median)
    if f.sustainable_share >= 0.5:
        return f"in {share}, after {from_day} in the median of those runs"
    return f"only in {share} (after {from_day} in the median of those); most runs never get there"


def describe_sustainability(f: Findings) -> list[Block]:
    """Is the token model sustainable, and from when."""
    verdict = "sustainable" if f.last_year_ratio.median >= 1 else "not sustainable"
    earnings = f.last_year_revenue.median - f.last_year_incentives.median
    text = [
        f"**In the last year the model is {verdict}** in the median run: burns cover "
        f"{_spread(f.last_year_ratio)}× of what is minted (burn/mint ratio; 1 means net emissions are zero). "
        f"In the first year the ratio was {_spread(f.first_year_ratio)}.",
        f"Users pay ${_spread(f.last_year_revenue)} a day in the last year, while the tokens minted for "
        f"incentives are worth ${_spread(f.last_year_incentives)} a day: earnings (revenue − incentives) "
        f"are {'−' if earnings < 0 else ''}${format_number(abs(earnings))} a day in the median.",
        f"Burns cover mints for good (30-day sums, to the end of the horizon) {_when_sustainable(f)}.",
        f"The equilibrium price D/M, at which burns would equal mints, is ${_spread(f.equilibrium_price)} "
        f"in the last year, against a final market price of ${_spread(f.final_price)}.",
        f"Supply goes from {format_number(f.supply_start)} to {_spread(f.supply_end)} tokens; "
        f"{_spread(f.minted_total)} minted and {_spread(f.burned_total)} burned in total.",
        describe_assumption(f.spec),
    ]
    if f.exhausted_share > 0:
        text.append(
            f"{f.exhausted_share:.0%} of runs ran out of supply (users could not burn what they wanted to "
            "pay): their burns were capped, revenue is counted as what was burned, and they are not counted "
            "as sustainable."
        )
    return [Heading(2, "Is the token model sustainable?"), *[Paragraph(t) for t in text]]


def describe_assumption(spec: ScenarioSpec) -> str:
    """The assumption the burn/mint verdict rests on, named (the report states it beside the verdict)."""
    if spec.price.kind != "market":
        return (
            f"**Assumption:** the token price is exogenous (`{spec.price.kind}`): the burn/mint ratio "
            "follows from that price path and the USD demand, both inputs; nothing in the model pushes them "
            "together."
        )
    if spec.selling.rule == "fixed":
        return (
            "**Assumption:** every recipient sells a fixed share `price.sell_fraction` = "
            f"{spec.price.sell_fraction:g} of every mint. With the market price model the last-year "
            "burn/mint ratio then converges to that share: **this verdict restates an input**, not a finding "
            "(the `agents` selling rule makes it an outcome)."
        )
    extra = ""
    if spec.price.max_burn_share_per_day > 0:
        extra += (
            f" Scarcity pricing also lifts the price whenever a day's demand would buy more than "
            f"{spec.price.max_burn_share_per_day:.2%} of the circulating supply, so burns can outrun sells."
        )
    return (
        "**Assumption:** with the market price model the price settles where what users burn balances "
        "what recipients sell, so the burn/mint ratio is the share of the mint sold; who sells is the "
        f"`[selling]` rule: {spec.selling.describe()}. The ratio therefore moves with contributors' "
        "operating costs, the price and their expectations (`depin economics sensitivity` shows which "
        "inputs drive it)." + extra
    )


def format_share(share: float) -> str:
    """A share of runs as a percentage that never rounds a few runs to 0 % (or all but a few to 100 %)."""
    if 0 < share < 0.01 or 0.99 < share < 1:
        return f"{share:.1%}"
    return f"{share:.0%}"


def _payback_sentence(f: Findings) -> str:
    d = f.devices[0]
    cost = f"${format_number(d.hardware_cost_usd)}"
    if d.never_share >= 0.5:
        return (
            f"A {d.name} bought on day 0 does **not** recover its {cost} hardware cost within "
            f"{f.years:.0f} years in the median run ({format_share(d.never_share)} of runs never do)."
        )
    return (
        f"A {d.name} bought on day 0 recovers its {cost} hardware cost after "
        f"**{_days(d.payback_days.median)}** in the median run that recovers it; "
        f"{format_share(d.never_share)} of runs do not within {f.years:.0f} years."
    )


def describe_contributors(f: Findings) -> list[Block]:
    """How long a contributor needs to recover the hardware cost."""
    if not f.devices:
        return [
            Heading(2, "Contributors"),
            Paragraph("The scenario has no device types, so no payback is computed."),
        ]
    rows = []
    for d in f.devices:
        pay = d.payback_days
        rows.append(
            (
                d.name,
                f"${format_number(d.hardware_cost_usd)}",
                f"${d.opex_usd_per_day:g}",
                f"{format_number(pay.median)} ({format_number(pay.p5)}–{format_number(pay.p95)})",
                f"{format_share(d.never_share)}",
                f"{d.roi_1y.median:+.0%} ({d.roi_1y.p5:+.0%}…{d.roi_1y.p95:+.0%})",
                f"{format_number(d.start)} → {_spread(d.end)}",
            )
        )
    text = (
        _payback_sentence(f) + " Payback = hardware cost ÷ (daily reward × price − daily operating cost), "
        "accumulated day by day."
    )
    headers = ("device", "hardware", "opex/day", "payback days", "never", "1-year ROI", "count start → end")
    return [
        Heading(2, "How long does a contributor need to recover the hardware?"),
        Paragraph(text),
        Table(headers, tuple(rows)),
    ]


def describe_risks(f: Findings) -> list[Block]:
    """What breaks it: thresholds and the events seen in the runs."""
    items = [
        f"**Demand below ${_spread(f.demand_needed_usd)} a day** (last-year price × mint): below that, "
        f"burns do not cover mints and supply inflates."
    ]
    for d in f.devices:
        items.append(
            f"**A token price below ${format_number(d.break_even_price)}** (last-year rewards): a "
            f"{d.name} no longer covers its ${d.opex_usd_per_day:g}/day operating cost, and contributors "
            "leave. Device "
            f"count peaks at {_spread(d.peak)} and ends at {_spread(d.end)}."
        )
    if f.halvings_at_years:
        years = ", ".join(f"{y:.1f}" for y in f.halvings_at_years)
        items.append(f"**Halvings** at years {years}: each cuts the reward per device in half overnight.")
    if f.exhausted_share > 0:
        why = (
            "demand bought up and burned the liquid supply faster than the market price rose"
            if f.spec.price.kind == "market"
            else "demand at that price would burn more tokens than circulate: an exogenous price that low is "
            "inconsistent with the demand (the `market` price model lets buying lift the price instead)"
        )
        items.append(f"**Supply exhaustion** in {f.exhausted_share:.0%} of runs: {why}.")
    if f.halted_days.median > 0 or f.halted_days.p95 > 0:
        items.append(
            f"**Stale oracle**: credit minting halted on {_spread(f.halted_days)} days; that demand was lost."
        )
    return [Heading(2, "What breaks it"), Bullets(tuple(items))]


def key_numbers(percentiles: pl.DataFrame, days: int, set_index: int = 0) -> Table:
    """Median (p5–p95) of the key metrics at year 1, the middle and the end."""
    marks = sorted({min(DAYS_PER_YEAR, days), max(1, days // 2), days})
    rows = []
    table = percentiles.filter(pl.col("set") == set_index)
    available = table["day"].unique().sort().to_numpy()
    for metric, label in KEY_METRICS:
        subset = table.filter(pl.col("metric") == metric)
        if subset.height == 0:
            continue
        cells = [label]
        for mark in marks:
            day = available[np.searchsorted(available, mark, side="left").clip(0, len(available) - 1)]
            row = subset.filter(pl.col("day") == day).row(0, named=True)
            cells.append(
                f"{format_number(row['p50'])} ({format_number(row['p5'])}–{format_number(row['p95'])})"
            )
        rows.append(tuple(cells))
    headers = ("metric", *[f"day {m} (year {m / DAYS_PER_YEAR:.1f})" for m in marks])
    return Table(headers, tuple(rows))


def sweep_table(experiment: Experiment, summary: pl.DataFrame) -> Table:
    """Per parameter set: what it changes, last-year burn/mint, share sustainable, median payback per type."""
    devices = [device.name for device in experiment.variants[0].devices]
    rows = []
    for s, changes in enumerate(experiment.parameter_sets):
        part = summary.filter(pl.col("set") == s)
        ratio = np.nanmedian(part["last_year_burn_mint_ratio"].to_numpy())
        share = float(np.mean(np.isfinite(part["sustainable_from_day"].to_numpy())))
        cells = [
            str(s),
            ", ".join(f"{k} = {v:.4g}" for k, v in changes.items()),
            f"{ratio:.3g}",
            f"{share:.0%}",
        ]
        for name in devices:
            payback = part[f"payback_days[{name}]"].to_numpy()
            cells.append(format_number(float(np.median(np.where(np.isfinite(payback), payback, np.inf)))))
        rows.append(tuple(cells))
    headers = ["set", "parameters", "last-year burn/mint", "runs sustainable"]
    headers += [f"median payback days ({name})" for name in devices]
    return Table(tuple(headers), tuple(rows))


def describe_sensitivity(table: pl.DataFrame) -> list[Block]:
    """Rank correlations of swept parameters with the outcomes, strongest first."""
    if table.height == 0:
        return []
    outcomes = [c for c in table.columns if c != "parameter"]
    rows = []
    for row in table.iter_rows(named=True):
        rows.append(
            (row["parameter"], *[f"{row[c]:+.2f}" if np.isfinite(row[c]) else "n/a" for c in outcomes])
        )
    key = "last-year burn/mint"
    ranked = sorted(
        (r for r in table.iter_rows(named=True) if np.isfinite(r[key])), key=lambda r: -abs(r[key])
    )
    text = (
        f"Across the parameter sets, **{ranked[0]['parameter']}** moves the last-year burn/mint ratio most "
        f"(Spearman ρ = {ranked[0][key]:+.2f}; ±1: the ratio moves monotonically with it)."
        if ranked
        else "No swept parameter changes the last-year burn/mint ratio in rank."
    )
    return [Paragraph(text), Table(("parameter", *[f"ρ with {c}" for c in outcomes]), tuple(rows))]


def compose_report(
    experiment: Experiment,
    findings: Findings,
    percentiles: pl.DataFrame,
    summary: pl.DataFrame,
    images: list[str],
    extra: list[Block] | None = None,
) -> list[Block]:
    """The whole page, top to bottom (`extra`: shocks and fraud, after the risks)."""
    spec = experiment.scenario
    sets = len(experiment.variants)
    intro = (
        f"{spec.description} {experiment.runs} Monte Carlo runs"
        + (f" × {sets} parameter sets" if sets > 1 else "")
        + f", {findings.years:.0f} years of daily steps, seed {spec.seed}. Figures are medians with the "
        "p5–p95 "
        "range across runs" + (" of parameter set 0" if sets > 1 else "") + "."
    )
    blocks: list[Block] = [Heading(1, f"Token economics: {spec.name}"), Paragraph(intro)]
    blocks += describe_service(findings)
    blocks += describe_policy(findings)
    blocks += describe_sustainability(findings)
    blocks += describe_contributors(findings)
    blocks += describe_risks(findings)
    blocks += extra or []
    blocks += [Heading(2, "Key numbers"), key_numbers(percentiles, experiment.days)]
    if sets > 1:
        blocks += [Heading(2, "Parameter sweep"), sweep_table(experiment, summary)]
        blocks += describe_sensitivity(compute_sensitivity(experiment.parameter_sets, summary))
    blocks += [
        Heading(2, "Charts"),
        *[Image(name, name.removesuffix(".png").replace("_", " ")) for name in images],
    ]
    blocks.append(
        Paragraph(
            "Method: a vectorised burn-and-mint simulation (opendepin.economics) in float64 — a forecast, "
            "not settlement. Tables: percentiles.parquet (per step), summary.parquet (per run), "
            "sets.parquet, scenario.json (the scenario as simulated), "
            "paths.parquet (every run, when small enough)."
        )
    )
    return blocks


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` produced."""

    result: SimulationResult
    findings: Findings
    files: dict[str, Path]


def write_resolved_scenario(out: Path, spec: ScenarioSpec) -> Path:
    """The scenario exactly as simulated (defaults filled in, overrides applied), beside the outputs."""
    path = out / "scenario.json"
    path.write_text(spec.model_dump_json(indent=2))
    return path


def write_report(experiment: Experiment, out: Path, progress: ProgressCallback | None = None) -> ReportFiles:
    """Simulate, compute metrics, and write Parquet tables, PNG charts, report.md and report.html."""
    result = run_experiment(experiment, progress=progress)
    metrics = compute_step_metrics(result)
    summary = compute_run_summary(result, metrics)
    percentiles = compute_percentiles(result, metrics)
    files = write_tables(out, result, metrics, summary, percentiles, experiment.parameter_sets)
    files["scenario"] = write_resolved_scenario(out, experiment.scenario)
    labels = [
        ", ".join(f"{k}={v:.4g}" for k, v in changes.items()) or "base"
        for changes in experiment.parameter_sets
    ]
    device_names = list(result.layout.device_names)
    charts = plot_metrics(percentiles, out, labels, device_names)
    if device_names:
        charts["payback"] = plot_payback(summary.filter(pl.col("set") == 0), device_names, result.days, out)
    files.update(charts)
    findings = compute_findings(result, metrics, summary)
    extra = describe_shocks(result, metrics, out) + describe_fraud(result)
    if (out / "shock_contributors.png").exists():
        files["shock_contributors"] = out / "shock_contributors.png"
    blocks = compose_report(
        experiment, findings, percentiles, summary, [p.name for p in charts.values()], extra
    )
    files["report.md"] = out / "report.md"
    files["report.html"] = out / "report.html"
    files["report.md"].write_text(render_markdown(blocks))
    files["report.html"].write_text(render_html(blocks, f"Token economics: {experiment.scenario.name}"))
    return ReportFiles(result, findings, files)
