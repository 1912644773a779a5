"""`depin storage` and `depin provider storage` are mounted through the `opendepin.commands` entry points;
the client's catalog commands work offline."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

from typer.testing import CliRunner

from opendepin.sectors.storage.cli import provider_app, storage_app
from opendepin.sectors.storage.client import Catalog, ObjectRecord, client_wallet


def test_entry_points_name_the_storage_commands() -> None:
    names = {e.name: e.value for e in entry_points(group="opendepin.commands")}
    assert names["storage"] == "opendepin.sectors.storage.cli:storage_app"
    assert names["provider.storage"] == "opendepin.sectors.storage.cli:provider_app"


def test_address_ls_and_the_provider_help(tmp_path: Path) -> None:
    runner = CliRunner()
    address = runner.invoke(storage_app, ["address", "--home", str(tmp_path)])
    assert address.exit_code == 0 and address.stdout.strip() == client_wallet(tmp_path).address
    assert (tmp_path / "client.key").stat().st_mode & 0o777 == 0o600
    Catalog(tmp_path).add(ObjectRecord("ab" * 16, "a.txt", 5, "00" * 32, 4, 10, 1))
    listed = runner.invoke(storage_app, ["ls", "--home", str(tmp_path), "--json"])
    assert json.loads(listed.stdout) == [
        {"object": "ab" * 16, "name": "a.txt", "size": 5, "sha256": "00" * 32, "expires": 0}
    ]
    missing = runner.invoke(
        storage_app, ["get", "cd" * 16, "--home", str(tmp_path), "-o", str(tmp_path / "x")]
    )
    assert missing.exit_code == 1 and "storage.unknown_object" in missing.output
    assert not (tmp_path / "x").exists()
    assert "--dir" in runner.invoke(provider_app, ["--help"]).stdout
