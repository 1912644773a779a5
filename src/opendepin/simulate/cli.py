"""`depin simulate wireless`: run a named proof-of-coverage scenario headless and score the detection."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from opendepin.fleet.radio.runner import RunResult, run_scenario
from opendepin.fleet.radio.scenarios import SCENARIOS

app = typer.Typer(help="Headless simulations scored against the ground truth.", no_args_is_help=True)


@app.callback()
def simulate() -> None:
    """Headless simulations scored against the ground truth."""


FIGURES = ("leakage", "precision", "recall", "false_positive_rate", "sparse_honest_rewarded")


def render_table(result: RunResult) -> Table:
    """Detection vs per-report rules, one row per figure."""
    table = Table(
        title=f"{result.scenario}: {result.devices} hotspots ({result.adversaries} adversarial), "
        f"{result.epochs} epochs, seed {result.seed}"
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
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate a wireless scenario; print leakage, precision, recall, FPR vs per-report rules alone."""
    if scenario not in SCENARIOS:
        Console(stderr=True).print(
            f"[red]error:[/red] unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}"
        )
        raise typer.Exit(2)
    result = run_scenario(scenario, devices, epochs, seed, adversary_share=adversary_share)
    if as_json:
        typer.echo(json.dumps(result.as_dict(), sort_keys=True))
    else:
        Console().print(render_table(result))
