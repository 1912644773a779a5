"""`depin simulate wireless`: JSON output with the figures (leakage, pay ratio, precision, recall, FPR) for
detection and the rules alone, on the network a user runs (`--network FILE`, default the wireless IoT
example)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import typer
from typer.testing import CliRunner

from opendepin.sectors.wireless.sim.scenarios import SCENARIOS
from opendepin.simulate.cli import app, mount, mount_sector_apps

FIGURES = {"leakage", "adversary_pay_ratio", "precision", "recall", "false_positive_rate"}
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "wireless-iot.toml"


def test_json_has_the_figures_and_the_baseline() -> None:
    result = CliRunner().invoke(
        app,
        [
            "wireless",
            "--scenario",
            "witness-ring",
            "--devices",
            "300",
            "--epochs",
            "1",
            "--seed",
            "3",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= FIGURES and set(data["baseline"]) >= FIGURES
    assert data["scenario"] == "witness-ring" and data["devices"] == 300 and data["adversaries"] == 45
    assert data["network"] == "helium-style-iot"
    assert data["leakage"] < data["baseline"]["leakage"]
    assert data["adversary_pay_ratio"] < data["baseline"]["adversary_pay_ratio"]


def test_table_output_names_both_modes() -> None:
    result = CliRunner().invoke(
        app, ["wireless", "--scenario", "honest", "--devices", "200", "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "per-report rules alone" in result.output and "leakage" in result.output


def test_invalid_scenario_exits_with_a_hint() -> None:
    result = CliRunner().invoke(app, ["wireless", "--scenario", "nope", "--devices", "100"])
    assert result.exit_code == 2


def test_network_file_is_used_and_checked(tmp_path: Path) -> None:
    renamed = tmp_path / "network.toml"
    renamed.write_text(EXAMPLE.read_text().replace('name = "helium-style-iot"', 'name = "my-iot"'))
    args = ["wireless", "--scenario", "honest", "--devices", "60", "--epochs", "1", "--json"]
    result = CliRunner().invoke(app, [*args, "--network", str(renamed)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["network"] == "my-iot"
    heartbeats_only = tmp_path / "plain.toml"
    heartbeats_only.write_text('name = "plain"\n')
    result = CliRunner().invoke(app, [*args, "--network", str(heartbeats_only)])
    assert result.exit_code == 2 and "sectors.wireless.poc" in result.output


def test_help_lists_the_scenarios_unbroken() -> None:
    """At 80 columns the list of scenarios may wrap, but between names only: every name reads whole."""
    result = CliRunner().invoke(app, ["wireless", "--help"], terminal_width=80)
    assert result.exit_code == 0
    words = set(re.findall(r"[a-z][a-z-]*[a-z]", result.output))
    assert set(SCENARIOS) <= words, set(SCENARIOS) - words


def test_each_sector_brings_its_own_command() -> None:
    """`depin simulate NAME` comes from the sector (`simulate_app`); one command is mounted as NAME itself,
    several as a group."""
    assert "wireless" in mount_sector_apps(typer.Typer())
    single, several = typer.Typer(), typer.Typer()
    single.command("only")(lambda: typer.echo("ran"))
    several.command("one")(lambda: typer.echo("one"))
    several.command("two")(lambda: typer.echo("two"))
    group = typer.Typer()
    group.callback()(lambda: None)
    mount(group, "single", single)
    mount(group, "several", several)
    assert CliRunner().invoke(group, ["single"]).output == "ran\n"
    assert CliRunner().invoke(group, ["several", "two"]).output == "two\n"
