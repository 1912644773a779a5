"""`depin simulate wireless`: run a named proof-of-coverage scenario headless and score the detection.

The simulated hotspots' reports go through the network's own epoch (`process_epoch`) with its network
definition (default: the wireless IoT example, `examples/wireless-iot.toml`; `--network FILE` for another).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from opendepin.config import ConfigError
from opendepin.fleet.radio.network import load_network
from opendepin.fleet.radio.runner import RunResult, run_scenario
from opendepin.fleet.radio.scenarios import SCENARIOS

app = typer.Typer(help="Headless simulations scored against the ground truth.", no_args_is_help=True)


@app.callback()
def simulate() -> None:
    """Headless simulations scored against the ground truth."""


FIGURES = (
    "leakage",
    "adversary_pay_ratio",
    "precision",
    "recall",
    "false_positive_rate",
    "sparse_honest_rewarded",
)


def render_table(result: RunResult) -> Table:
    """Detection vs per-report rules, one row per figure."""
    table = Table(
        title=f"{result.scenario} on {result.network}: {result.devices} hotspots "
        f"({result.adversaries} adversarial), {result.epochs} epochs, seed {result.seed}"
    )
    table.add_column("figure")
    table.add_column("opendepin (rules + trust)", justify="right")
    table.add_column("per-report rules alone", justify="right")
    ours, base = result.detection.as_dict(), result.baseline.as_dict()
    for name in FIGURES:
        table.add_row(name, f"{ours[name]:.4f}", f"{base[name]:.4f}")
    return table


@app.command()
def wireless(
    scenario: Annotated[str, typer.Option(help=f"one of: {', '.join(SCENARIOS)}")] = "mixed",
    devices: Annotated[int, typer.Option(min=10, help="hotspots in the fleet")] = 2_000,
    epochs: Annotated[int, typer.Option(min=1, help="daily epochs to simulate")] = 3,
    seed: Annotated[int, typer.Option(help="random seed (runs are reproducible)")] = 7,
    adversary_share: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of cheating hotspots")
    ] = 0.15,
    network: Annotated[
        Path | None,
        typer.Option(help="network.toml with [sectors.wireless.poc] (default: the wireless IoT example)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate a wireless scenario; print leakage, pay ratio, precision, recall, FPR vs the rules alone."""
    errors = Console(stderr=True)
    if scenario not in SCENARIOS:
        errors.print(f"[red]error:[/red] unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
        raise typer.Exit(2)
    try:
        config = load_network(network)
    except ConfigError as error:
        errors.print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    result = run_scenario(scenario, devices, epochs, seed, config, adversary_share=adversary_share)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), sort_keys=True))
    else:
        Console().print(render_table(result))
