"""`depin simulate compute`: cheating strategies against the compute rules, Monte Carlo next to the closed
form (sim/model.py). Mounted under `depin simulate` by `ComputeSector.simulate_app`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opendepin.sectors.compute.sim.scenarios import SCENARIOS

ScenarioName = Literal[tuple(SCENARIOS)]  # type: ignore[valid-type]
SCENARIO_CHOICES = "[" + "|".join(SCENARIOS) + "]"


def _params(network: Path | None):  # type: ignore[no-untyped-def]
    from opendepin.sectors.compute.params import ComputeParams

    if network is None:
        return ComputeParams()
    import tomllib

    table = tomllib.loads(network.read_text()).get("sectors", {}).get("compute", {})
    return ComputeParams.model_validate(table)


def compute(
    scenario: Annotated[
        ScenarioName, typer.Option(metavar=SCENARIO_CHOICES, help="the strategies to run (honest: none)")
    ] = "all",
    seed: Annotated[int, typer.Option(help="random seed (runs are reproducible)")] = 7,
    providers: Annotated[int, typer.Option(min=10, help="simulated providers per strategy")] = 200,
    jobs: Annotated[int, typer.Option(min=10, help="jobs in each provider's life")] = 400,
    units: Annotated[int, typer.Option(min=2, max=128, help="units per job")] = 32,
    price: Annotated[int, typer.Option(min=1, help="credits per unit the provider bid")] = 12,
    cost: Annotated[int, typer.Option(min=1, help="credits per unit an honest run costs")] = 10,
    network: Annotated[
        Path | None, typer.Option(help="network.toml whose \\[sectors.compute] to use (default: defaults)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Each cheating strategy's expected value against honest work, detection rate, time to penalty and
    false positives, next to the closed form."""
    from opendepin.sectors.compute.sim.model import Economy
    from opendepin.sectors.compute.sim.scenarios import run

    economy = Economy(units=units, price=price, cost=cost, providers=providers, jobs=jobs)
    result = run(scenario, economy, _params(network), seed)
    if as_json:
        typer.echo(json.dumps(result, sort_keys=True))
        return
    table = Table(
        title=f"compute / {scenario}, seed {seed}: per job, credits (capacity: share of hourly pay)"
    )
    for column in (
        "strategy",
        "EV vs honest",
        "closed form",
        "± MC",
        "detected",
        "closed form ",
        "to penalty",
    ):
        table.add_column(column, justify="right")
    for name, row in result["strategies"].items():
        to_penalty = (
            row.get("jobs_to_first_penalty_median")
            or row.get("hours_to_first_penalty_median")
            or row.get("seconds_to_penalty_median")
        )
        table.add_row(
            name,
            f"{row['expected_value']:.4g}",
            f"{row['expected_value_closed_form']:.4g}",
            f"{row.get('monte_carlo_stderr', 0):.2g}",
            f"{row['detection_rate']:.4f}",
            f"{row.get('detection_rate_closed_form', row['detection_rate']):.4f}",
            "–" if to_penalty is None else f"{to_penalty:g}",
        )
    honest = result["honest"]
    table.caption = (
        f"honest: {honest['expected_value_per_job']} credits per job, false positives "
        f"{honest['false_positive_rate']:.4%} over {honest['jobs']} jobs · s((1−τ)P+S)/C = "
        f"{result['small_skip_condition']['ratio']:.2f} · every cheating EV < 0: "
        f"{result['all_cheating_negative']}"
    )
    Console().print(table)


def build_app() -> typer.Typer:
    """A Typer with the one command `compute` (mounted as `depin simulate compute`)."""
    app = typer.Typer()
    app.command("compute", epilog=f"--scenario is one of {escape(SCENARIO_CHOICES)}")(compute)
    return app
