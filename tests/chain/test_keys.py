"""The chain's role keys live in the data dir's encrypted keystore, decrypted only when used."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from opendepin.chain.backend import ChainError
from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.embedded import EmbeddedBackend
from opendepin.chain.keys import load_or_create_keys
from opendepin.chain.signing import address_of
from opendepin.config import NetworkConfig
from opendepin.fleet.simulator import Fleet, FleetSpec
from opendepin.identity.keystore import PASSWORD_ENV, KeystoreError
from tests.chain.helpers import key_of

HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
KEY_NAMES = re.compile(r"(operator|oracle|maker|owner|private|secret|key)", re.I)


def plain_text_keys(data_dir: Path) -> list[str]:
    """Where a JSON file of `data_dir` holds a 32-byte hex string under a key-like name, outside an
    encrypted keystore (an object with a `crypto` section): the acceptance rule of the hardening issue."""
    hits: list[str] = []

    def walk(value: Any, name: str | None, where: str) -> None:
        if isinstance(value, dict):
            if "crypto" in value or "Crypto" in value:
                return
            for key, inner in value.items():
                walk(inner, key, where)
        elif isinstance(value, list):
            for inner in value:
                walk(inner, name, where)
        elif isinstance(value, str) and HEX_KEY.match(value) and KEY_NAMES.search(name or ""):
            hits.append(f"{where}:{name}")

    for path in data_dir.rglob("*.json"):
        walk(json.loads(path.read_text()), None, str(path.relative_to(data_dir)))
    return hits


def test_data_dir_holds_no_plain_text_key(tmp_path: Path) -> None:
    """Regression: operator, oracle and maker keys sat in plain text in chain/keys.json."""
    fleet = Fleet.create(
        FleetSpec(seed=1, region="berlin", devices=5, owners=2, misbehaving_share=0.0, p256_share=0.5),
        fleet_secret=bytes.fromhex(key_of(9)[2:]),
    )
    fleet.save(tmp_path / "fleet.json")
    chain = EmbeddedBackend(tmp_path, load_or_create_keys(tmp_path, 3, 2))
    ensure_deployed(chain, NetworkConfig())
    chain.close()
    assert plain_text_keys(tmp_path) == []
    assert not (tmp_path / "chain" / "keys.json").exists()
    keystore = tmp_path / "keystore"
    assert {p.name for p in keystore.iterdir()} >= {
        "operator.json",
        "admin.json",
        "oracle-3.json",
        ".password",
    }
    assert all(os.stat(p).st_mode & 0o077 == 0 for p in keystore.iterdir())


def test_invalid_scan_finds_plain_text_keys(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text(json.dumps({"operator": key_of(1), "makers": [key_of(2)[2:]]}))
    assert sorted(plain_text_keys(tmp_path)) == ["keys.json:makers", "keys.json:operator"]


def test_keys_reopen_with_the_generated_password(tmp_path: Path) -> None:
    first = load_or_create_keys(tmp_path, 2, 1)
    again = load_or_create_keys(tmp_path, 2, 1)
    assert first.oracles == again.oracles and first.operator == again.operator
    assert address_of(first.feeder) == again.address("feeder")


def test_keys_under_a_password_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "correct horse battery staple")
    keys = load_or_create_keys(tmp_path)
    operator = keys.operator
    assert not (tmp_path / "keystore" / ".password").exists()
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with pytest.raises(ChainError, match="the operator key is unavailable: cannot decrypt"):
        _ = load_or_create_keys(tmp_path).operator
    monkeypatch.delenv(PASSWORD_ENV)
    reopened = load_or_create_keys(tmp_path)
    assert reopened.address("operator") == address_of(operator)  # addresses need no password
    with pytest.raises(ChainError, match=rf"no password .* set {PASSWORD_ENV}"):
        _ = reopened.operator


def test_operator_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEPIN_OPERATOR_KEY", key_of(5))
    keys = load_or_create_keys(tmp_path)
    assert keys.operator == key_of(5) and keys.address("operator") == address_of(key_of(5))


def test_invalid_plain_text_keys_of_an_older_version(tmp_path: Path) -> None:
    (tmp_path / "chain").mkdir()
    (tmp_path / "chain" / "keys.json").write_text(json.dumps({"operator": key_of(1)}))
    with pytest.raises(KeystoreError, match=r"plain text .* start a new data dir"):
        load_or_create_keys(tmp_path)
