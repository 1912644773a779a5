"""`depin epoch export` / `depin epoch verify`: a bundle recomputes in a fresh process with no store."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendepin.cli import app
from opendepin.rewards.bundle import decode_bundle

runner = CliRunner()


def _depin(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opendepin", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("net") / "data"
    args = ["up", "--epochs", "2", "--devices", "16", "--json", "--chain", "embedded"]
    args += ["--data-dir", str(data)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return data


def test_export_then_verify_alone_in_a_fresh_process(network: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "epoch-1.bundle"
    exported = runner.invoke(app, ["epoch", "export", "1", "--out", str(bundle), "--data-dir", str(network)])
    assert exported.exit_code == 0, exported.output
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "b").write_bytes(bundle.read_bytes())
    verified = _depin("epoch", "verify", "--bundle", "b", cwd=elsewhere)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "match" in verified.stdout and "mismatch" not in verified.stdout
    assert list(elsewhere.iterdir()) == [elsewhere / "b"]  # nothing written: no store, no node


def test_one_byte_of_one_signed_report_changed_fails(network: Path, tmp_path: Path) -> None:
    bundle = tmp_path / "b"
    runner.invoke(app, ["epoch", "export", "1", "--out", str(bundle), "--data-dir", str(network)])
    data = bundle.read_bytes()
    signature = decode_bundle(data).reports[5].signature
    position = data.index(signature) + 7
    altered = bytearray(data)
    altered[position] ^= 0x01
    bundle.write_bytes(bytes(altered))
    verified = _depin("epoch", "verify", "--bundle", "b", cwd=tmp_path)
    assert verified.returncode == 1
    assert "signature does not verify" in " ".join(verified.stdout.split())


def test_verify_checks_the_root_posted_on_chain(network: Path) -> None:
    result = runner.invoke(app, ["epoch", "verify", "1", "--data-dir", str(network), "--chain", "embedded"])
    assert result.exit_code == 0, result.output
    assert "posted on chain for epoch 1 is the recomputed one" in " ".join(result.output.split())


def test_verify_names_the_table_that_was_changed(network: Path, tmp_path: Path) -> None:
    import shutil
    import sqlite3

    copy = tmp_path / "copy"
    shutil.copytree(network, copy)
    with sqlite3.connect(copy / "depin.sqlite") as db:
        rowid, amount = db.execute(
            "SELECT rowid, amount FROM device_rewards WHERE epoch = 1 AND amount != '0' LIMIT 1"
        ).fetchone()
        db.execute("UPDATE device_rewards SET amount = ? WHERE rowid = ?", (str(int(amount) + 1), rowid))
    result = runner.invoke(app, ["epoch", "verify", "1", "--data-dir", str(copy)])
    assert result.exit_code == 1
    assert "mismatch" in result.output and "device_rewards" in result.output, result.output


def test_verify_needs_an_epoch_or_a_bundle(tmp_path: Path) -> None:
    assert runner.invoke(app, ["epoch", "verify"]).exit_code == 2
    (tmp_path / "junk").write_bytes(b"not a bundle")
    result = runner.invoke(app, ["epoch", "verify", "--bundle", str(tmp_path / "junk")])
    assert result.exit_code == 1 and "not a valid epoch bundle" in " ".join(result.output.split())
