"""`depin economics …`: simulate a scenario and write the sustainability report, or report on a running
local network. Mounted by the main CLI as `app.add_typer(economics.cli.app, name="economics")`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from opendepin.economics.experiments import Experiment, prepare_experiment
from opendepin.economics.live import LiveDataError, read_network
from opendepin.economics.model import ProgressCallback
from opendepin.economics.scenarios import (
    ScenarioError,
    list_scenarios,
    load_scenario,
    with_network,
    with_overrides,
)
from opendepin.economics.spec import FraudSpec, ScenarioSpec, SweepSpec

app = typer.Typer(
    help="Token economics: simulate scenarios and write sustainability reports.", no_args_is_help=True
)


def _fail(message: str) -> typer.Exit:
    Console(stderr=True).print(f"[red]error:[/red] {escape(message)}")  # as written, not Rich markup
    return typer.Exit(code=2)


def _parse_assignments(items: list[str], what: str) -> dict[str, str]:
    parsed = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise _fail(f"{what} {item!r}: write it as dotted.path=value, e.g. price.initial=0.5")
        parsed[key.strip()] = value.strip()
    return parsed


def _number(text: str, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise _fail(f"{what}: {text!r} is not a number") from None


def build_sweep(grid: list[str], ranges: list[str], samples: int, seed: int) -> SweepSpec | None:
    """`--grid path=v1,v2` (grid) or `--random path=low:high` (random) options as a sweep."""
    if grid and ranges:
        raise _fail("use either --grid or --random, not both")
    if grid:
        values = {
            k: [_number(v, k) for v in text.split(",")]
            for k, text in _parse_assignments(grid, "--grid").items()
        }
        return SweepSpec(kind="grid", values=values)
    if ranges:
        bounds = {}
        for key, text in _parse_assignments(ranges, "--random").items():
            low, sep, high = text.partition(":")
            if not sep:
                raise _fail(f"--random {key}={text}: write the range as low:high")
            bounds[key] = (_number(low, key), _number(high, key))
        return SweepSpec(kind="random", ranges=bounds, samples=samples, seed=seed)
    return None


@contextmanager
def progress_bar(description: str, total: int, quiet: bool) -> Iterator[ProgressCallback | None]:
    """A rich progress bar over simulated days (all chunks of a sweep)."""
    if quiet:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(description, total=total)
        yield lambda days: progress.advance(task, days)


def _total_days(experiment: Experiment) -> int:
    return experiment.days * len(experiment.chunks())


def _load(scenario: str, network: Path | None) -> ScenarioSpec:
    try:
        spec = load_scenario(scenario)
    except ScenarioError as error:
        raise _fail(str(error)) from None
    if network is not None:
        config, found = read_network(network.parent if network.name == "network.toml" else network)
        if not found:
            raise _fail(f"{network}: no network.toml there")
        spec = with_network(spec, config)
    return spec


def with_fraud(spec: ScenarioSpec, files: dict[str, str]) -> ScenarioSpec:
    """The scenario with each named sector's fraud figures read from a simulator's JSON output."""
    if not files:
        return spec
    names = [sector.name for sector in spec.sectors]
    sectors = list(spec.sectors)
    for name, file in files.items():
        if name not in names:
            raise ScenarioError(f"--fraud {name}=…: no sector {name!r}; sectors: {names}")
        try:
            data = json.loads(Path(file).read_text())
            figures = FraudSpec.from_simulation(data, f"{Path(file).name}")
        except (OSError, ValueError, KeyError) as error:
            raise ScenarioError(f"--fraud {name}={file}: not a simulator's JSON output ({error})") from None
        index = names.index(name)
        sectors[index] = sectors[index].model_copy(update={"fraud": figures})
    return spec.model_copy(update={"sectors": sectors})


@app.command("list")
def list_command() -> None:
    """List the shipped scenarios."""
    for name in list_scenarios():
        spec = load_scenario(name)
        typer.echo(f"{name:15s} {spec.description}")


@app.command("run")
def run_command(
    scenario: Annotated[
        str, typer.Argument(help="a shipped scenario name (see `list`) or a scenario .toml file")
    ],
    runs: Annotated[
        int | None, typer.Option("--runs", "-r", min=1, help="Monte Carlo runs per parameter set")
    ] = None,
    years: Annotated[float | None, typer.Option("--years", "-y", min=0.01, help="horizon in years")] = None,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="directory for Parquet, PNG and the report")
    ] = Path("economics-report"),
    seed: Annotated[int | None, typer.Option(help="random seed (default: the scenario's)")] = None,
    network: Annotated[
        Path | None,
        typer.Option(help="network.toml (or its directory) whose emission, supply and splits to use"),
    ] = None,
    set_: Annotated[list[str], typer.Option("--set", help="override a number: dotted.path=value")] = [],  # noqa: B006
    grid: Annotated[list[str], typer.Option(help="grid sweep: dotted.path=v1,v2,…")] = [],  # noqa: B006
    random_: Annotated[list[str], typer.Option("--random", help="random sweep: dotted.path=low:high")] = [],  # noqa: B006
    samples: Annotated[int, typer.Option(min=1, help="parameter sets of a random sweep")] = 8,
    fraud: Annotated[
        list[str],
        typer.Option(help="a sector's fraud figures: SECTOR=FILE, the JSON of `depin simulate NAME --json`"),
    ] = [],  # noqa: B006
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="no progress bar")] = False,
) -> None:
    """Simulate SCENARIO and write results (Parquet), charts (PNG) and report.md / report.html to OUT."""
    from opendepin.economics.report import write_report  # matplotlib: imported when needed only

    spec = _load(scenario, network)
    try:
        overrides = {k: _number(v, k) for k, v in _parse_assignments(set_, "--set").items()}
        spec = with_overrides(spec, overrides) if overrides else spec
        sweep = build_sweep(grid, random_, samples, seed if seed is not None else spec.seed)
        if sweep is not None:
            spec = spec.model_copy(update={"sweep": sweep})
        spec = with_fraud(spec, _parse_assignments(fraud, "--fraud"))
        experiment = prepare_experiment(spec, runs=runs, years=years, seed=seed)
    except ScenarioError as error:
        raise _fail(str(error)) from None
    with progress_bar(f"simulating {spec.name}", _total_days(experiment), quiet) as progress:
        produced = write_report(experiment, out, progress)
    f = produced.findings
    typer.echo(
        f"{spec.name}: {experiment.runs} runs × {len(experiment.variants)} set(s) × {experiment.days} days; "
        f"last-year burn/mint {f.last_year_ratio.median:.3g}; "
        f"runs sustainable by the end {f.sustainable_share:.0%}"
    )
    typer.echo(f"report: {produced.files['report.md']} and {produced.files['report.html']}")


@app.command("sensitivity")
def sensitivity_command(
    scenario: Annotated[
        str, typer.Argument(help="a shipped scenario name (see `list`) or a scenario .toml file")
    ],
    param: Annotated[
        list[str],
        typer.Option(
            "--param", "-p", help="an input and its range: dotted.path=low:high (default: the usual)"
        ),
    ] = [],  # noqa: B006
    outcome: Annotated[
        str, typer.Option(help="last_year_burn_mint_ratio, final_price or final_devices")
    ] = "last_year_burn_mint_ratio",
    samples: Annotated[int, typer.Option(min=2, help="Saltelli base samples N (N × (inputs + 2) sets)")] = 32,
    runs: Annotated[int, typer.Option("--runs", "-r", min=1, help="Monte Carlo runs per set")] = 16,
    years: Annotated[float | None, typer.Option("--years", "-y", min=0.01, help="horizon in years")] = None,
    seed: Annotated[int, typer.Option(help="random seed of the design and the runs")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="directory for the table, chart and text")] = Path(
        "economics-sensitivity"
    ),
) -> None:
    """Which inputs drive a verdict: Sobol indices (SALib) of an outcome, a table and a tornado chart."""
    from opendepin.economics.global_sensitivity import (
        compute_sobol,
        default_inputs,
        describe_sobol,
        plot_tornado,
    )

    spec = _load(scenario, None)
    if years is not None:
        spec = spec.model_copy(update={"days": max(1, round(years * 365))})
    inputs: dict[str, tuple[float, float]] = {}
    for key, text in _parse_assignments(param, "--param").items():
        low, sep, high = text.partition(":")
        if not sep:
            raise _fail(f"--param {key}={text}: write the range as low:high")
        inputs[key] = (_number(low, key), _number(high, key))
    try:
        result = compute_sobol(
            spec, inputs or default_inputs(spec), base_samples=samples, runs=runs, seed=seed, outcome=outcome
        )
    except (ScenarioError, ValueError) as error:
        raise _fail(str(error)) from None
    out.mkdir(parents=True, exist_ok=True)
    result.table.write_parquet(out / "sobol.parquet")
    plot_tornado(result, out / "tornado.png")
    (out / "scenario.json").write_text(spec.model_dump_json(indent=2))
    text = describe_sobol(result)
    (out / "sensitivity.md").write_text(
        f"# Sensitivity of {spec.name}\n\n{text}\n\n![tornado](tornado.png)\n"
    )
    typer.echo(text)
    typer.echo(f"written: {out / 'sobol.parquet'}, {out / 'tornado.png'}, {out / 'sensitivity.md'}")


@app.command("report")
def report_command(
    data_dir: Annotated[Path, typer.Option("--data-dir", "-d", help="a network's data directory")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="output directory (default DATA_DIR/economics)")
    ] = None,
    scenario: Annotated[
        str, typer.Option(help="scenario giving the forecast's price model and device costs")
    ] = "bootstrap",
    price: Annotated[
        float | None,
        typer.Option(min=0.0, help="token price in USD (default: the chain oracle's, else $1)"),
    ] = None,
    demand: Annotated[
        float | None,
        typer.Option(min=0.0, help="forecast demand in USD a day (default: observed burns on the chain)"),
    ] = None,
    runs: Annotated[int, typer.Option("--runs", "-r", min=1)] = 100,
    years: Annotated[float, typer.Option("--years", "-y", min=0.01)] = 5.0,
    force_forecast: Annotated[
        bool, typer.Option("--force-forecast", help="forecast even from too few epochs or devices")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q")] = False,
) -> None:
    """Report what a network paid, burned and refused (store and chain), and forecast from it when it has
    enough history."""
    from opendepin.economics.live_report import write_live_report  # matplotlib: imported when needed only

    base = _load(scenario, None)
    target = out if out is not None else data_dir / "economics"
    with progress_bar("forecasting", max(1, round(years * 365)), quiet) as progress:
        try:
            produced = write_live_report(
                data_dir,
                target,
                base,
                price_usd=price,
                runs=runs,
                years=years,
                demand_usd_per_day=demand,
                force_forecast=force_forecast,
                progress=progress,
            )
        except (LiveDataError, ScenarioError) as error:
            raise _fail(str(error)) from None
    totals = produced.totals
    last = produced.metrics.row(produced.metrics.height - 1, named=True)
    burned = (
        f"{totals.burned:.6g} burned on chain (burned/minted {totals.burn_mint_ratio or 0:.3g})"
        if totals.burned is not None
        else "burns unknown (chain not read)"
    )
    typer.echo(
        f"{totals.epochs} epochs: {totals.paid:.6g} minted (paid to devices), {burned}; "
        f"{int(last['devices_rewarded'])} rewarded devices"
    )
    typer.echo(produced.forecast_note.replace("**", ""))
    typer.echo(f"report: {produced.files['report.md']} and {produced.files['report.html']}")
