"""`depin simulate storage`: run a named adversary scenario headless and score detection and pay.

Mounted under `depin simulate` by `StorageSector.simulate_app`. Every epoch goes through the network's own
`process_epoch` (default network: `examples/storage.toml`, shipped as `sim/storage.toml`).
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
from opendepin.sectors.storage.sim.runner import RunResult, load_network, run_scenario
from opendepin.sectors.storage.sim.scenarios import SCENARIOS

ScenarioName = Literal[tuple(SCENARIOS)]  # type: ignore[valid-type]
SCENARIO_CHOICES = "[" + "|".join(SCENARIOS) + "]"
"""How the help prints the scenarios (one unbroken word)."""


def render_table(result: RunResult) -> Table:
    table = Table(
        title=f"{result.scenario} on {result.network}: {result.devices} providers ({result.adversaries} "
        f"adversarial), {result.epochs} epochs, seed {result.seed}"
    )
    for column in ("behaviour", "devices", "flagged", "disqualified", "audits to detection", "pay vs honest"):
        table.add_column(column, justify="right")
    for kind, row in result.by_behaviour.items():
        audits = row["audits_to_detection_median"]
        table.add_row(
            kind,
            str(row["devices"]),
            str(row["flagged"]),
            str(row["disqualified"]),
            "–" if audits is None else str(audits),
            f"{row['pay_vs_honest']:.4f}",
        )
    scores = result.scores.as_dict()
    table.caption = (
        f"leakage {scores['leakage']:.4%} · false positives {scores['false_positive_rate']:.4%} · precision "
        f"{scores['precision']:.4f} · recall {scores['recall']:.4f} · honest disqualified "
        f"{result.honest_disqualified}"
    )
    return table


def storage(
    scenario: Annotated[
        ScenarioName, typer.Option(metavar=SCENARIO_CHOICES, help="the adversary scenario (honest: none)")
    ] = "mixed",
    devices: Annotated[int, typer.Option(min=20, help="provider identities")] = 200,
    epochs: Annotated[int, typer.Option(min=1, help="daily epochs to simulate")] = 10,
    seed: Annotated[int, typer.Option(help="random seed (runs are reproducible)")] = 7,
    adversary_share: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of adversarial identities")
    ] = 0.15,
    network: Annotated[
        Path | None, typer.Option(help="network.toml with \\[sectors.storage] (default: the example)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate a storage scenario; print leakage, pay per adversary vs honest, precision, recall, FPR and
    audits to detection per adversary."""
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
    """A Typer with the one command `storage` (mounted as `depin simulate storage`)."""
    app = typer.Typer()
    app.command("storage", epilog=f"--scenario is one of {escape(SCENARIO_CHOICES)}")(storage)
    return app
