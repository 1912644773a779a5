"""The command line answers bad input and damaged data with a message and a non-zero exit code, never a
traceback, and `--fresh` never deletes a directory that is not an opendepin data dir (issue 11)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ENTRY = "from opendepin.cli import main; main()"
UP = ["up", "--epochs", "1", "--devices", "4", "--chain", "none", "--json"]


def depin(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the real `depin` entry point in its own process."""
    return subprocess.run(
        [sys.executable, "-c", ENTRY, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode not in (0, None), result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    assert message in " ".join(result.stderr.split()), result.stderr


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "data"
    result = depin(*UP, "--data-dir", str(path))
    assert result.returncode == 0, result.stderr
    return path


def test_check_config_of_a_directory(tmp_path: Path) -> None:
    assert_clean_failure(depin("check-config", str(tmp_path)), "is a directory")


def test_check_config_of_a_binary_file(tmp_path: Path) -> None:
    (tmp_path / "x.toml").write_bytes(b"\xff\xfe\x00")
    assert_clean_failure(depin("check-config", str(tmp_path / "x.toml")), "cannot read")


def test_up_with_a_directory_as_network(tmp_path: Path) -> None:
    result = depin(*UP, "--network", str(tmp_path), "--data-dir", str(tmp_path / "d"))
    assert_clean_failure(result, "not a file")


def test_proof_of_something_that_is_not_an_address(data_dir: Path) -> None:
    result = depin("epoch", "proof", "0", "nonsense", "--data-dir", str(data_dir))
    assert_clean_failure(result, "neither a 0x address nor a key name")


@pytest.mark.parametrize(
    "args",
    [
        ["epoch", "proof", str(2**63), "0x" + "11" * 20],
        ["epoch", "show", str(2**63)],
        ["explain", "ed25519:00", "--epoch", str(2**64)],
    ],
)
def test_huge_epoch_numbers(data_dir: Path, args: list[str]) -> None:
    result = depin(*args, "--data-dir", str(data_dir))
    assert_clean_failure(result, "less than or equal to")


@pytest.mark.parametrize("stored", ["CAST(x'ff00a1' AS TEXT)", "'a text envelope'", "x'00'"])
def test_a_stored_envelope_that_is_not_bytes(data_dir: Path, tmp_path: Path, stored: str) -> None:
    """The reproduced finding: a traceback (`sqlite3.OperationalError`) for an envelope stored as text."""
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(data_dir, damaged)
    store = next(p for p in damaged.glob("depin.sqlite*") if p.suffix in (".sqlite", ".sqlite3"))
    db = sqlite3.connect(store)
    db.execute(
        f"UPDATE reports SET envelope = {stored} WHERE report_id = (SELECT MIN(report_id) FROM reports)"
    )
    db.commit()
    db.close()
    result = depin("epoch", "verify", "0", "--data-dir", str(damaged))
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert "damaged" in result.stderr or "mismatch" in result.stdout


def test_fresh_refuses_a_directory_that_is_not_a_data_dir(tmp_path: Path) -> None:
    """The reproduced finding: `depin up --fresh --data-dir DIR` deleted any directory (a file was lost)."""
    precious = tmp_path / "mine" / "thesis.tex"
    precious.parent.mkdir()
    precious.write_text("years of work")
    result = depin(*UP, "--fresh", "--data-dir", str(precious.parent))
    assert_clean_failure(result, "refuses to delete")
    assert precious.read_text() == "years of work"


def test_fresh_restarts_a_data_dir_and_an_empty_one(data_dir: Path, tmp_path: Path) -> None:
    assert (data_dir / ".opendepin-data-dir").is_file()
    assert depin(*UP, "--fresh", "--data-dir", str(data_dir)).returncode == 0
    (tmp_path / "empty").mkdir()
    assert depin(*UP, "--fresh", "--data-dir", str(tmp_path / "empty")).returncode == 0
