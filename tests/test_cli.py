"""The command line: init, check-config, and clear errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from opendepin.cli import app

runner = CliRunner()


def test_init_then_check(tmp_path: Path) -> None:
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "network.toml").exists()
    assert runner.invoke(app, ["init", str(tmp_path)]).exit_code == 2
    check = runner.invoke(app, ["check-config", str(tmp_path / "network.toml")])
    assert check.exit_code == 0 and "wireless" in check.output


def test_check_config_names_key(tmp_path: Path) -> None:
    path = tmp_path / "network.toml"
    path.write_text("[token]\ndecimals = 99\n")
    result = runner.invoke(app, ["check-config", str(path)])
    assert result.exit_code == 2 and "token.decimals" in result.output


def test_up_with_network_file(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[1] / "examples"
    result = runner.invoke(
        app,
        [
            "up",
            "--epochs",
            "1",
            "--devices",
            "8",
            "--json",
            "--chain",
            "none",
            "--data-dir",
            str(tmp_path / "net"),
            "--network",
            str(examples / "wireless-iot.toml"),
        ],
    )
    assert result.exit_code == 0, result.output
    copied = (tmp_path / "net" / "network.toml").read_text()
    original = (examples / "wireless-iot.toml").read_text()
    assert copied.startswith(original)  # the file, then the fleet's maker the network must accept
    assert copied[len(original) :].strip().startswith("[[makers]]")
    bad = tmp_path / "bad.toml"
    bad.write_text("[token]\ndecimals = 99\n")
    refused = runner.invoke(
        app, ["up", "--epochs", "1", "--data-dir", str(tmp_path / "other"), "--network", str(bad)]
    )
    assert refused.exit_code == 2 and "token.decimals" in refused.output
