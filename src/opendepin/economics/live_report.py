"""`depin economics report --data-dir DIR`: the sustainability report of a running local network.

The same metrics as a simulated run, built from the store (see :mod:`.live`), then a Monte Carlo
forecast calibrated on them (:func:`.live.calibrate`) written with the simulator's own report into
`OUT/forecast/`.
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
from opendepin.economics.live import Calibration, LiveData, calibrate, compute_live_metrics, read_live_data
from opendepin.economics.model import ProgressCallback
from opendepin.economics.report import ReportFiles, write_report
from opendepin.economics.spec import ScenarioSpec

LIVE_CHARTS = (
    ("live_supply", "Supply from the store (tokens)", ("supply",)),
    ("live_burn_vs_mint", "Minted vs burned per epoch (tokens)", ("minted", "burned")),
    ("live_devices", "Devices", ("devices_onboarded", "devices_active")),
)


@dataclass(frozen=True)
class LiveReport:
    metrics: pl.DataFrame
    calibration: Calibration
    forecast: ReportFiles | None
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


def describe_live(
    live: LiveData, metrics: pl.DataFrame, price_usd: float, calibration: Calibration
) -> list[Block]:
    """What the store shows, in plain words."""
    last = metrics.row(metrics.height - 1, named=True)
    minted_total = float(metrics["minted"].sum())
    span = float(metrics["epoch_days"].sum())
    symbol = live.network.token.symbol
    usage = (
        f"The store has a `{live.usage_table}` table, but its layout is not known to this version, so "
        "it is not read: demand is taken as **zero**."
        if live.usage_table
        else "**No usage or burn data is recorded in the store yet** (data credits come with the chain "
        "work), so demand, revenue and burns are taken as zero: nobody pays yet, and every reward is new "
        "supply."
    )
    burned = format_number(float(metrics["burned"].sum()))
    onboarded, active = int(last["devices_onboarded"]), int(last["devices_active"])
    lost = int(metrics["devices_lost"].sum())
    tokens, usd = last["tokens_per_active_device_per_day"], last["usd_per_active_device_per_day"]
    incentives = format_number(float(metrics["incentives_usd"].sum()))
    facts = [
        f"{metrics.height} closed epochs covering {span:.3g} days; {format_number(minted_total)} {symbol} "
        f"minted, {burned} burned; supply {format_number(last['supply'])}.",
        f"Devices: {onboarded} onboarded, {active} reporting in the last epoch; churn (drops in active "
        f"devices from one epoch to the next, summed): {lost}.",
        f"Reward per active device: {format_number(tokens)} {symbol} a day, ${format_number(usd)} at an "
        f"assumed price of ${price_usd:g} (the local network has no market price).",
        f"Burn/mint ratio 0, revenue $0 against ${incentives} of incentives: **not sustainable yet** — the "
        "network pays contributors only with new tokens.",
    ]
    source = "its network.toml" if live.network_found else "default parameters (no network.toml in DATA_DIR)"
    calib = [
        f"start at day {calibration.start_day} since genesis with {format_number(calibration.supply)} "
        f"{symbol} and {format_number(calibration.devices)} devices; emission schedule and splits from "
        f"{source}",
        f"device growth observed {calibration.observed_growth_per_day:.3%} a day, used "
        f"{calibration.used_growth_per_day:.3%} a day (capped at 5 %)",
        f"demand ${calibration.demand_usd_per_day:g} a day"
        + (" (observed: none)" if calibration.demand_usd_per_day == 0 else " (assumed on the command line)"),
    ]
    return [
        Heading(1, f"Token economics, live: {live.network.name}"),
        Paragraph(usage),
        Heading(2, "What the store shows"),
        Bullets(tuple(facts)),
        Heading(2, "Forecast calibrated on it"),
        Bullets(tuple(calib)),
    ]


def epoch_table(metrics: pl.DataFrame, limit: int = 12) -> Table:
    """The last epochs, one row each."""
    rows = []
    for row in metrics.tail(limit).iter_rows(named=True):
        rows.append(
            (
                str(row["epoch"]),
                f"{row['day']:.3f}",
                format_number(row["minted"]),
                format_number(row["burned"]),
                format_number(row["supply"]),
                str(int(row["devices_active"])),
                format_number(row["tokens_per_active_device_per_day"]),
            )
        )
    headers = ("epoch", "day", "minted", "burned", "supply", "active devices", "tokens/device/day")
    return Table(headers, tuple(rows))


def write_live_report(
    data_dir: Path,
    out: Path,
    base: ScenarioSpec,
    *,
    price_usd: float,
    runs: int,
    years: float,
    demand_usd_per_day: float = 0.0,
    progress: ProgressCallback | None = None,
) -> LiveReport:
    """Read the store, write live.parquet, charts and report.md/html, and a calibrated forecast."""
    live = read_live_data(data_dir)
    metrics = compute_live_metrics(live, price_usd)
    out.mkdir(parents=True, exist_ok=True)
    files = {"live": out / "live.parquet"}
    metrics.write_parquet(files["live"])
    files.update(plot_live(metrics, out))
    calibration = calibrate(base, live, metrics, demand_usd_per_day)
    scenario = calibration.scenario.model_copy(
        update={"price": calibration.scenario.price.model_copy(update={"initial": price_usd})}
    )
    forecast = write_report(prepare_experiment(scenario, runs=runs, years=years), out / "forecast", progress)
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
        )
        summary += " (median)"
        summary += f", not within the horizon in {device.never_share:.0%} of runs."
    blocks = describe_live(live, metrics, price_usd, calibration)
    blocks += [
        Paragraph(summary + " Full forecast: forecast/report.md."),
        Heading(2, "Last epochs"),
        epoch_table(metrics),
        Heading(2, "Charts"),
        *[Image(path.name, name.replace("_", " ")) for name, path in files.items() if path.suffix == ".png"],
    ]
    files["report.md"] = out / "report.md"
    files["report.html"] = out / "report.html"
    files["report.md"].write_text(render_markdown(blocks))
    files["report.html"].write_text(render_html(blocks, f"Token economics, live: {live.network.name}"))
    return LiveReport(metrics, calibration, forecast, files)
