"""`depin simulate sensors`: run a named cheating scenario headless and score detection and pay.

Mounted under `depin simulate` by `SensorsSector.simulate_app`. Every epoch goes through the network's own
`process_epoch` (default network: `examples/weather.toml`, shipped as `sim/weather.toml`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opendepin.config import ConfigError
from opendepin.sectors.sensors.sim.runner import SCENARIOS, RunResult, load_network, run_scenario

ScenarioName = Literal[SCENARIOS]  # type: ignore[valid-type]
SCENARIO_CHOICES = "[" + "|".join(SCENARIOS) + "]"


def render_table(result: RunResult) -> Table:
    table = Table(
        title=f"{result.scenario} on {result.network}: {result.devices} stations ({result.adversaries} "
        f"cheating), {result.epochs} epochs, seed {result.seed}"
    )
    for column in ("behaviour", "stations", "flagged", "pay vs honest"):
        table.add_column(column, justify="right")
    for kind, row in result.by_behaviour.items():
        table.add_row(kind, str(row["devices"]), str(row["flagged"]), f"{row['pay_vs_honest']:.4f}")
    s = result.scores
    table.caption = (
        f"leakage {s['leakage']:.4%} · false positives {s['false_positive_rate']:.4%} · precision "
        f"{s['precision']:.4f} · recall {s['recall']:.4f}"
    )
    return table


def sensors(
    scenario: Annotated[
        ScenarioName, typer.Option(metavar=SCENARIO_CHOICES, help="the cheating scenario (honest: none)")
    ] = "mixed",
    devices: Annotated[int, typer.Option(min=20, help="stations")] = 200,
    epochs: Annotated[int, typer.Option(min=1, help="daily epochs to simulate")] = 1,
    seed: Annotated[int, typer.Option(help="random seed (runs are reproducible)")] = 7,
    adversary_share: Annotated[
        float, typer.Option(min=0.0, max=0.5, help="share of cheating stations")
    ] = 0.1,
    network: Annotated[
        Path | None, typer.Option(help="network.toml with \\[sectors.sensors] (default: the example)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate a sensors scenario; print leakage, pay per cheating station vs an honest one, precision,
    recall and the honest false-positive rate."""
    try:
        config = load_network(network)
    except (ConfigError, OSError) as error:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    result = run_scenario(scenario, devices, epochs, seed, config, adversary_share)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), sort_keys=True))
    else:
        Console().print(render_table(result))


def build_app() -> typer.Typer:
    """A Typer with the one command `sensors` (mounted as `depin simulate sensors`)."""
    app = typer.Typer()
    app.command("sensors", epilog=f"--scenario is one of {escape(SCENARIO_CHOICES)}")(sensors)
    return app
