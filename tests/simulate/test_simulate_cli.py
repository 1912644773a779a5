"""`depin simulate wireless`: JSON output with the four figures, for detection and the rules alone."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from opendepin.simulate.cli import app

FIGURES = {"leakage", "precision", "recall", "false_positive_rate"}


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
    assert data["leakage"] < data["baseline"]["leakage"]


def test_table_output_names_both_modes() -> None:
    result = CliRunner().invoke(
        app, ["wireless", "--scenario", "honest", "--devices", "200", "--epochs", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "per-report rules alone" in result.output and "leakage" in result.output


def test_invalid_scenario_exits_with_a_hint() -> None:
    result = CliRunner().invoke(app, ["wireless", "--scenario", "nope", "--devices", "100"])
    assert result.exit_code == 2
