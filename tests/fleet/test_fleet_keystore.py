"""The simulated fleet's keys: derived from one fleet secret, which fleet.json holds only encrypted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from opendepin.fleet.simulator import Fleet, FleetSpec
from opendepin.identity.keystore import FAST_KDF_ENV, PASSWORD_ENV, KeystoreError, Password

SPEC = FleetSpec(seed=5, region="berlin", devices=12, owners=4, misbehaving_share=0.3, p256_share=0.5)
SECRET = bytes.fromhex("6f" * 32)


@pytest.fixture(autouse=True)
def _fast_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAST_KDF_ENV, "1")
    monkeypatch.delenv(PASSWORD_ENV, raising=False)


def _private_values(fleet: Fleet) -> set[str]:
    keys = {fleet.maker.private_key.hex(), *(o.private_key.hex() for o in fleet.owners)}
    return keys | {d.secret for d in fleet.devices} | {fleet.fleet_secret.hex()}


def test_save_holds_no_private_key_and_load_restores_every_key(tmp_path: Path) -> None:
    """Regression: fleet.json kept the maker's, owners' and devices' private keys in plain text."""
    fleet = Fleet.create(SPEC, fleet_secret=SECRET)
    path = tmp_path / "fleet.json"
    fleet.save(path)
    text = path.read_text()
    assert not any(value in text for value in _private_values(fleet))
    assert "crypto" in json.loads(text)["fleet_secret"]
    loaded = Fleet.load(path)
    assert _private_values(loaded) == _private_values(fleet)
    assert [d.cell for d in loaded.devices] == [d.cell for d in fleet.devices]


def test_keys_follow_the_fleet_secret_positions_follow_the_seed() -> None:
    one, other = Fleet.create(SPEC, fleet_secret=SECRET), Fleet.create(SPEC, fleet_secret=bytes(31) + b"\x01")
    assert [d.cell for d in one.devices] == [d.cell for d in other.devices]
    assert [d.behaviour for d in one.devices] == [d.behaviour for d in other.devices]
    assert not _private_values(one) & _private_values(other)
    assert _private_values(Fleet.create(SPEC)) == _private_values(Fleet.create(SPEC))  # seed-derived


def test_invalid_load_with_the_wrong_password(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    Fleet.create(SPEC, fleet_secret=SECRET).save(path, Password("one", generated=False))
    with pytest.raises(KeystoreError, match="cannot decrypt the fleet secret"):
        Fleet.load(path, Password("another", generated=False))


def test_invalid_plain_text_fleet_of_an_older_version(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"spec": {}, "maker": "11" * 32, "owners": [], "devices": []}))
    with pytest.raises(KeystoreError, match=r"older opendepin .* plain text"):
        Fleet.load(path)
