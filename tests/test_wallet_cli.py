"""`depin wallet new | import | list | balance`: keys go into an encrypted keystore, never through an
argument, and other commands name them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from eth_account import Account
from typer.testing import CliRunner

from opendepin.chain.cli import chain_app
from opendepin.identity.keystore import FAST_KDF_ENV, PASSWORD_ENV, Keystore
from opendepin.wallet_cli import wallet_app

app = typer.Typer()  # mounted as the main CLI mounts them
app.add_typer(wallet_app, name="wallet")
app.add_typer(chain_app, name="chain")
runner = CliRunner()
KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ADDRESS = Account.from_key(KEY).address


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "a person's password")
    monkeypatch.setenv(FAST_KDF_ENV, "1")


def wallet(*args: str, stdin: str | None = None) -> dict | list:
    result = runner.invoke(app, ["wallet", *args, "--json"], input=stdin, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout[result.stdout.index("[" if args[0] == "list" else "{") :])


def test_new_then_list(tmp_path: Path) -> None:
    made = wallet("new", "alice", "--data-dir", str(tmp_path))
    assert isinstance(made, dict) and Path(made["file"]) == tmp_path / "keystore" / "alice.json"
    stored = json.loads(Path(made["file"]).read_text())
    assert "crypto" in stored and Account.decrypt(stored, "a person's password")
    assert wallet("list", "--data-dir", str(tmp_path)) == [{"name": "alice", "address": made["address"]}]


def test_import_from_stdin_and_from_a_file(tmp_path: Path) -> None:
    imported = wallet("import", "bob", "--data-dir", str(tmp_path), stdin=KEY + "\n")
    assert isinstance(imported, dict) and imported["address"] == ADDRESS
    key_file = tmp_path / "carol.key"
    key_file.write_text(KEY[2:] + "\n")
    other = wallet("import", "carol", "--key-file", str(key_file), "--keystore", str(tmp_path / "elsewhere"))
    assert isinstance(other, dict) and other["address"] == ADDRESS
    keystore = Keystore(tmp_path / "keystore")
    assert keystore.load("bob", "a person's password") == bytes.fromhex(KEY[2:])
    assert KEY[2:] not in (tmp_path / "keystore" / "bob.json").read_text()


def test_invalid_import(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["wallet", "import", "bob", "--data-dir", str(tmp_path)], input="0x1234\n")
    assert bad.exit_code == 1 and "32 bytes in hex" in bad.output
    wallet("import", "bob", "--data-dir", str(tmp_path), stdin=KEY + "\n")
    again = runner.invoke(app, ["wallet", "import", "bob", "--data-dir", str(tmp_path)], input=KEY + "\n")
    assert again.exit_code == 1 and "already exists" in again.output
    as_argument = runner.invoke(app, ["wallet", "import", "carol", KEY, "--data-dir", str(tmp_path)])
    assert as_argument.exit_code != 0 and "unexpected extra argument" in as_argument.output


def test_new_asks_for_a_password_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV)
    result = runner.invoke(app, ["wallet", "new", "dave", "--data-dir", str(tmp_path)], input="pw-1\npw-1\n")
    assert result.exit_code == 0, result.output
    assert Keystore(tmp_path / "keystore").load("dave", "pw-1")
    silent = runner.invoke(app, ["wallet", "new", "erin", "--data-dir", str(tmp_path)], input="")
    assert silent.exit_code == 1 and PASSWORD_ENV in silent.output


def test_balance_by_name_and_by_address(tmp_path: Path) -> None:
    deployed = runner.invoke(app, ["chain", "deploy", "--data-dir", str(tmp_path)])
    assert deployed.exit_code == 0, deployed.output
    wallet("import", "bob", "--data-dir", str(tmp_path), stdin=KEY + "\n")
    by_name = wallet("balance", "bob", "--data-dir", str(tmp_path))
    assert by_name == {"address": ADDRESS, "tokens": 0, "claimed": 0, "credits": 0}
    assert wallet("balance", ADDRESS.lower(), "--data-dir", str(tmp_path)) == by_name
    unknown = runner.invoke(app, ["wallet", "balance", "nobody", "--data-dir", str(tmp_path)])
    assert unknown.exit_code == 1 and "no key named 'nobody'" in unknown.output
