"""The `depin economics` sub-app, driven through Typer's CliRunner on small runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from typer.testing import CliRunner

from opendepin.economics.cli import app
from tests.economics.test_live import write_store

runner = CliRunner()
CHARTS = (
    "supply.png",
    "burn_vs_mint.png",
    "revenue_vs_incentives.png",
    "usage_weight.png",
    "payback.png",
    "devices.png",
)


def test_run_writes_tables_charts_and_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["run", "bootstrap", "--runs", "12", "--years", "1.5", "--out", str(out), "-q"]
    )
    assert result.exit_code == 0, result.output
    for name in (
        *CHARTS,
        "percentiles.parquet",
        "summary.parquet",
        "paths.parquet",
        "report.md",
        "report.html",
    ):
        assert (out / name).stat().st_size > 0, name
    summary = pl.read_parquet(out / "summary.parquet")
    assert summary.height == 12
    report = (out / "report.md").read_text()
    for heading in (
        "What is paid for, and who pays",
        "Is the token model sustainable?",
        "recover the hardware",
        "What breaks it",
    ):
        assert heading in report
    assert "IoT packet delivery" in report
    assert "## Reward policy: coverage and usage" in report
    assert "w(r) through (0, 0), (1, 0.9), flat outside" in report  # the network's default policy
    assert "at most 1× the token value of the credits they carried" in report
    assert "usage weight w(r) of the device pool" in report  # key numbers
    median_payback = float(np.nanmedian(summary["payback_days[hotspot]"].to_numpy()))
    assert f"{median_payback:.0f} days" in report
    assert "<h2>What breaks it</h2>" in (out / "report.html").read_text()


def test_run_with_a_grid_sweep(tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = [
        "run",
        "bootstrap",
        "-r",
        "4",
        "-y",
        "0.5",
        "-o",
        str(out),
        "-q",
        "--grid",
        "price.initial=0.1,0.4",
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    sets = pl.read_parquet(out / "sets.parquet")
    assert sets["price.initial"].to_list() == [0.1, 0.4]
    assert "Parameter sweep" in (out / "report.md").read_text()
    assert pl.read_parquet(out / "summary.parquet")["set"].unique().sort().to_list() == [0, 1]


def test_run_a_user_file_with_overrides(tmp_path: Path) -> None:
    scenario = tmp_path / "mine.toml"
    scenario.write_text('name = "mine"\ndays = 60\nruns = 3\n[[sectors]]\nname = "svc"\n')
    result = runner.invoke(
        app, ["run", str(scenario), "-o", str(tmp_path / "o"), "-q", "--set", "price.initial=2"]
    )
    assert result.exit_code == 0, result.output
    assert "mine: 3 runs" in result.output


def test_run_with_a_policy_from_the_scenario_and_a_cap_sweep(tmp_path: Path) -> None:
    """A scenario's own [rewards.usage] is used and stated; the cap can be swept like any number."""
    scenario = tmp_path / "policy.toml"
    scenario.write_text(
        'name = "policy"\ndays = 90\nruns = 3\n'
        "[rewards.usage]\nweight = [[0.0, 0.2], [0.5, 0.6]]\ncap = 2.0\n"
        '[[sectors]]\nname = "svc"\n[[devices]]\nname = "d"\nsector = "svc"\n'
    )
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["run", str(scenario), "-o", str(out), "-q", "--grid", "rewards.usage.cap=0.5,2"]
    )
    assert result.exit_code == 0, result.output
    assert "w(r) through (0, 0.2), (0.5, 0.6), flat outside" in (out / "report.md").read_text()
    assert pl.read_parquet(out / "sets.parquet")["rewards.usage.cap"].to_list() == [0.5, 2.0]


def test_invalid_scenario_name_exits_2() -> None:
    result = runner.invoke(app, ["run", "nope", "-q"])
    assert result.exit_code == 2
    assert "shipped" in result.output


def test_invalid_override_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "bootstrap", "-q", "-o", str(tmp_path), "--set", "price.nothing=1"])
    assert result.exit_code == 2


def test_report_from_a_live_store(tmp_path: Path) -> None:
    data_dir = tmp_path / "net"
    write_store(data_dir)
    result = runner.invoke(app, ["report", "--data-dir", str(data_dir), "-q", "--price", "0.5"])
    assert result.exit_code == 0, result.output
    assert "No forecast: too little data" in result.output
    out = data_dir / "economics"
    report = (out / "report.md").read_text()
    assert "5 closed epochs" in report and "300k were paid to devices" in report
    assert "burns and supply on chain are unknown" in report
    assert not (out / "forecast").exists()
    assert pl.read_parquet(out / "live.parquet")["minted"].to_list()[-1] == 60_000.0


def test_report_forecast_when_forced_is_labelled(tmp_path: Path) -> None:
    data_dir = tmp_path / "net"
    write_store(data_dir)
    args = ["report", "--data-dir", str(data_dir), "--runs", "5", "--years", "0.5", "-q", "--force-forecast"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = data_dir / "economics"
    assert "this forecast is illustrative only" in (out / "report.md").read_text()
    assert (out / "forecast" / "report.md").exists()


def test_invalid_report_without_a_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", "--data-dir", str(tmp_path), "-q"])
    assert result.exit_code == 2
    assert "depin up" in result.output
