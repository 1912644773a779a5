"""`depin economics report --data-dir DIR`: the sustainability report of a running network.

Built from the network itself (see :mod:`.live`): what each epoch paid (minted = paid, not the emission
the schedule allowed), the devices it rewarded, the reports it refused, and what users burned for data
credits on the chain. A Monte Carlo forecast calibrated on it (:func:`.live.calibrate`, the simulator's own
report in `OUT/forecast/`) is written only when the network has enough history and devices to calibrate
one (:func:`.live.forecast_readiness`), or when asked to anyway, with a warning that says why it is weak.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

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
from opendepin.economics.experiments import prepare_experiment
from opendepin.economics.live import (
    Calibration,
    LiveData,
    LiveTotals,
    calibrate,
    compute_live_metrics,
    compute_totals,
    forecast_readiness,
    read_live_data,
)
from opendepin.economics.model import ProgressCallback
from opendepin.economics.report import ReportFiles, format_share, write_report
from opendepin.economics.spec import ScenarioSpec

LIVE_CHARTS = (
    (
        "live_paid",
        "Emitted by the schedule vs minted (paid to devices) per epoch, tokens",
        ("emitted", "minted"),
    ),
    ("live_devices", "Devices onboarded and rewarded", ("devices_onboarded", "devices_rewarded")),
    (
        "live_reports",
        "Reports counted, refused at ingest and found invalid",
        ("reports", "rejected_reports", "invalid_reports"),
    ),
)


@dataclass(frozen=True)
class LiveReport:
    metrics: pl.DataFrame
    totals: LiveTotals
    calibration: Calibration
    forecast: ReportFiles | None
    forecast_note: str
    files: dict[str, Path]


def plot_live(metrics: pl.DataFrame, out: Path) -> dict[str, Path]:
    """Line charts of the live metrics per epoch (x: days since genesis)."""
    written = {}
    days = metrics["day"].to_numpy()
    for name, title, columns in LIVE_CHARTS:
        fig = Figure(figsize=(8, 4), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.subplots()
        for column in columns:
            ax.plot(days, metrics[column].to_numpy(), marker="o", markersize=3, label=column)
        ax.set_title(title)
        ax.set_xlabel("days since genesis")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path)
        written[name] = path
    return written


def describe_live(live: LiveData, metrics: pl.DataFrame, totals: LiveTotals) -> list[Block]:
    """What the store and the chain show, in plain words."""
    last = metrics.row(metrics.height - 1, named=True)
    symbol = live.network.token.symbol
    price = totals.price_usd
    unminted = totals.emitted - totals.paid
    facts = [
        f"{totals.epochs} closed epochs covering {totals.days:.3g} days (store: {live.store_kind}). The "
        f"schedule allowed {format_number(totals.emitted)} {symbol}; **{format_number(totals.paid)} were "
        f"paid to devices** (minted); {format_number(unminted)} had no recipient and were not minted.",
        f"Devices: {int(last['devices_onboarded'])} onboarded, {int(last['devices_rewarded'])} rewarded in "
        f"the last epoch; drops in rewarded devices from one epoch to the next, summed: "
        f"{int(metrics['devices_lost'].sum())}.",
        f"Reward per rewarded device: {format_number(last['tokens_per_rewarded_device_per_day'])} {symbol} "
        f"a day, ${format_number(last['usd_per_rewarded_device_per_day'])} at ${price:g} "
        f"({totals.price_source}).",
        f"Reports: {int(metrics['reports'].sum())} counted, {int(metrics['invalid_reports'].sum())} found "
        f"invalid by the sectors' rules, {sum(live.rejections.values())} refused at ingest"
        + (
            " ("
            + ", ".join(f"{r} {c}" for r, c in sorted(live.rejections.items(), key=lambda x: -x[1])[:5])
            + ")"
            if live.rejections
            else ""
        )
        + ".",
        f"Usage settled in epochs: {int(metrics['usage_credits'].sum()):,} credits "
        f"(${float(metrics['usage_usd'].sum()):,.2f}).",
    ]
    if live.chain is not None and totals.burned is not None:
        chain = live.chain
        unit = 10**live.network.token.decimals
        match = {True: "matches", False: "**does not match**", None: "cannot be compared (nothing posted)"}[
            totals.posted_matches_paid
        ]
        facts += [
            f"Chain ({live.chain_note}): **{format_number(totals.burned)} {symbol} burned for data credits** "
            f"(DataCredits.total_burned), worth ${format_number(totals.burned * price)} at ${price:g}; "
            f"{chain.credits_outstanding:,} credits outstanding.",
            f"Chain supply {format_number(chain.total_supply / unit)} {symbol}; posted "
            f"{format_number(chain.total_posted / unit)} (through epoch {chain.latest_epoch}), which {match} "
            f"the store's paid amounts; claimed {format_number(chain.total_claimed / unit)}.",
        ]
        ratio = totals.burn_mint_ratio or 0.0
        verdict = (
            f"Burned ÷ minted to date: **{ratio:.3g}**: burns "
            + ("cover" if ratio >= 1 else "do not cover")
            + " what was paid to contributors"
            + ("." if ratio >= 1 else "; the rest of their pay is new supply.")
        )
    else:
        facts.append(f"Chain: not read ({live.chain_note}); burns and supply on chain are unknown.")
        verdict = "Burned ÷ minted cannot be computed without the chain."
    return [
        Heading(1, f"Token economics, live: {live.network.name}"),
        Paragraph(verdict),
        Heading(2, "What the network shows"),
        Bullets(tuple(facts)),
    ]


def describe_calibration(live: LiveData, calibration: Calibration) -> Bullets:
    """Where the forecast starts and what it assumes."""
    source = "its network.toml" if live.network_found else "default parameters (no network.toml in DATA_DIR)"
    symbol = live.network.token.symbol
    return Bullets(
        (
            f"start at day {calibration.start_day} since genesis with {format_number(calibration.supply)} "
            f"{symbol} and {format_number(calibration.devices)} devices; emission schedule and splits from "
            f"{source}",
            f"device growth observed {calibration.observed_growth_per_day:.3%} a day, used "
            f"{calibration.used_growth_per_day:.3%} a day (capped at 5 %)",
            f"demand ${calibration.demand_usd_per_day:,.2f} a day ({calibration.demand_source})",
        )
    )


def epoch_table(metrics: pl.DataFrame, limit: int = 12) -> Table:
    """The last epochs, one row each."""
    rows = []
    for row in metrics.tail(limit).iter_rows(named=True):
        rows.append(
            (
                str(row["epoch"]),
                f"{row['day']:.3f}",
                format_number(row["emitted"]),
                format_number(row["minted"]),
                str(int(row["devices_rewarded"])),
                format_number(row["tokens_per_rewarded_device_per_day"]),
                f"{int(row['rejected_reports'])} / {int(row['invalid_reports'])}",
                f"{int(row['usage_credits']):,}",
            )
        )
    headers = (
        "epoch",
        "day",
        "emitted",
        "minted (paid)",
        "rewarded devices",
        "tokens/device/day",
        "refused / invalid reports",
        "credits settled",
    )
    return Table(headers, tuple(rows))


def write_live_report(
    data_dir: Path,
    out: Path,
    base: ScenarioSpec,
    *,
    price_usd: float | None,
    runs: int,
    years: float,
    demand_usd_per_day: float | None = None,
    force_forecast: bool = False,
    progress: ProgressCallback | None = None,
) -> LiveReport:
    """Read the store and chain, write live.parquet, charts and report.md/html, and a calibrated forecast
    when there is enough data (or `force_forecast`)."""
    live = read_live_data(data_dir)
    metrics = compute_live_metrics(live, 1.0)
    totals = compute_totals(live, metrics, price_usd)
    metrics = compute_live_metrics(live, totals.price_usd)
    out.mkdir(parents=True, exist_ok=True)
    files = {"live": out / "live.parquet"}
    metrics.write_parquet(files["live"])
    files.update(plot_live(metrics, out))
    calibration = calibrate(base, live, metrics, totals, demand_usd_per_day)
    ready, why = forecast_readiness(metrics)
    forecast: ReportFiles | None = None
    blocks = describe_live(live, metrics, totals)
    blocks += [Heading(2, "Forecast calibrated on it"), describe_calibration(live, calibration)]
    if ready or force_forecast:
        forecast = write_report(
            prepare_experiment(calibration.scenario, runs=runs, years=years), out / "forecast", progress
        )
        f = forecast.findings
        ratio = f.last_year_ratio
        summary = (
            f"Forecast ({runs} runs, {years:g} years): last-year burn/mint ratio {ratio.median:.3g} (p5–p95 "
            f"{ratio.p5:.3g}–{ratio.p95:.3g}); runs where burns cover mints by the end: "
            f"{f.sustainable_share:.0%}."
        )
        if f.devices:
            device = f.devices[0]
            summary += (
                f" Payback of a {device.name} bought today: {format_number(device.payback_days.median)} days"
                f" (median), not within the horizon in {format_share(device.never_share)} of runs."
            )
        note = summary + " Full forecast: forecast/report.md."
        if not ready:
            note = f"**Warning: {why}; this forecast is illustrative only.** " + note
    else:
        note = (
            f"**No forecast: {why}.** Growth and demand measured over so few epochs and devices would be "
            "extrapolated into numbers that mean nothing; `--force-forecast` runs it anyway, labelled so."
        )
    blocks += [
        Paragraph(note),
        Heading(2, "Last epochs"),
        epoch_table(metrics),
        Heading(2, "Charts"),
        *[Image(path.name, name.replace("_", " ")) for name, path in files.items() if path.suffix == ".png"],
    ]
    files["report.md"] = out / "report.md"
    files["report.html"] = out / "report.html"
    files["report.md"].write_text(render_markdown(blocks))
    files["report.html"].write_text(render_html(blocks, f"Token economics, live: {live.network.name}"))
    return LiveReport(metrics, totals, calibration, forecast, note, files)
