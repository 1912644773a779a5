"""`depin simulate wireless`: run a named proof-of-coverage scenario headless and score the detection.

The simulated hotspots' reports go through the network's own epoch (`process_epoch`) with its network
definition (default: the wireless IoT example, `examples/wireless-iot.toml`; `--network FILE` for another).
Mounted under `depin simulate` by `WirelessSector.simulate_app`.
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
from opendepin.sectors.wireless.sim.network import load_network
from opendepin.sectors.wireless.sim.runner import ONBOARDING_CHOICES, RunResult, run_scenario
from opendepin.sectors.wireless.sim.scenarios import SCENARIOS

ScenarioName = Literal[tuple(SCENARIOS)]  # type: ignore[valid-type]
OnboardingName = Literal[ONBOARDING_CHOICES]  # type: ignore[valid-type]
"""The scenario names: the choices of `--scenario`."""
SCENARIO_CHOICES = "[" + "|".join(SCENARIOS) + "]"
"""How the help prints them (one unbroken word, so it reads the same at any terminal width)."""
FIGURES: dict[str, tuple[str, str]] = {
    "leakage": ("%", "share of all pay that went to adversary hotspots"),
    "adversary_pay_ratio": ("×", "mean pay per adversary hotspot ÷ mean pay per honest hotspot"),
    "precision": ("%", "of the hotspots flagged, the share that are adversaries"),
    "recall": ("%", "of the adversary hotspots, the share flagged"),
    "false_positive_rate": ("%", "of the honest hotspots, the share flagged"),
    "sparse_honest_rewarded": ("%", "honest hotspots with 1-3 others within 3 km that were paid"),
}
"""Each figure of the table: its unit (a share shown in percent, or a ratio) and what it measures."""


def _figure(value: float, unit: str) -> str:
    return f"{value * 100:.2f} %" if unit == "%" else f"{value:.3f} ×"


def render_table(result: RunResult) -> Table:
    """Detection vs per-report rules, one row per figure, with what each figure measures."""
    table = Table(
        title=f"{result.scenario} on {result.network}: {result.devices} hotspots "
        f"({result.adversaries} adversarial), {result.epochs} epochs, seed {result.seed}"
        + ("" if result.onboarding == "same" else f", onboarding {result.onboarding}")
    )
    table.add_column("figure", no_wrap=True)
    table.add_column("opendepin (rules + trust)", justify="right", no_wrap=True)
    table.add_column("per-report rules alone", justify="right", no_wrap=True)
    table.add_column("what it measures")
    ours, base = result.detection.as_dict(), result.baseline.as_dict()
    for name, (unit, meaning) in FIGURES.items():
        table.add_row(name, _figure(ours[name], unit), _figure(base[name], unit), meaning)
    return table


def wireless(
    scenario: Annotated[
        ScenarioName,
        typer.Option(metavar=SCENARIO_CHOICES, help="the adversary scenario (honest: none)"),
    ] = "mixed",
    devices: Annotated[int, typer.Option(min=10, help="hotspots in the fleet")] = 2_000,
    epochs: Annotated[int, typer.Option(min=1, help="daily epochs to simulate")] = 3,
    seed: Annotated[int, typer.Option(help="random seed (runs are reproducible)")] = 7,
    adversary_share: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="share of cheating hotspots")
    ] = 0.15,
    network: Annotated[
        Path | None,
        typer.Option(help="network.toml with \\[sectors.wireless.poc] (default: the wireless IoT example)"),
    ] = None,
    onboarding: Annotated[
        OnboardingName,
        typer.Option(
            metavar="same|spread|sleepers",
            help="when the hotspots were onboarded: all at once; spread over the year before; spread, with "
            "the adversaries a year older still",
        ),
    ] = "same",
    as_json: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Simulate a wireless scenario; print leakage, pay ratio, precision, recall, FPR vs the rules alone."""
    try:
        config = load_network(network)
    except ConfigError as error:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(error))}")
        raise typer.Exit(2) from None
    result = run_scenario(
        scenario, devices, epochs, seed, config, adversary_share=adversary_share, onboarding=onboarding
    )
    if as_json:
        typer.echo(json.dumps(result.as_dict(), sort_keys=True))
    else:
        Console().print(render_table(result))


def build_app() -> typer.Typer:
    """A Typer with the one command `wireless` (mounted as `depin simulate wireless`)."""
    app = typer.Typer()
    app.command("wireless", epilog=f"--scenario is one of {escape(SCENARIO_CHOICES)}")(wireless)
    return app
