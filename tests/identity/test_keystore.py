"""Ethereum keystore (v3) files: encryption, password sources, scrypt cost, the keystore directory."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from eth_account import Account

from opendepin.identity.keystore import (
    FAST_KDF_ENV,
    LIGHT_SCRYPT_N,
    PASSWORD_ENV,
    PASSWORD_FILE,
    STANDARD_SCRYPT_N,
    Keystore,
    KeystoreError,
    Password,
    data_dir_password,
    decrypt_key,
    encrypt_key,
    is_keystore,
    resolve_password,
)

KEY = bytes.fromhex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
CHOSEN = Password("a person's password", generated=False)


@pytest.fixture(autouse=True)
def _no_ambient_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setenv(FAST_KDF_ENV, "1")


def test_encrypt_is_a_standard_v3_keystore() -> None:
    keystore = encrypt_key(KEY, CHOSEN)
    assert keystore["version"] == 3 and keystore["crypto"]["kdf"] == "scrypt" and is_keystore(keystore)
    assert KEY.hex() not in json.dumps(keystore)
    assert bytes(Account.decrypt(keystore, CHOSEN.value)) == KEY  # any v3 reader opens it
    assert decrypt_key(keystore, CHOSEN.value) == KEY


def test_invalid_wrong_password() -> None:
    with pytest.raises(KeystoreError, match=r"cannot decrypt .*wrong password"):
        decrypt_key(encrypt_key(KEY, CHOSEN), "not it")


def test_scrypt_cost(monkeypatch: pytest.MonkeyPatch) -> None:
    """A person's password gets the Ethereum default cost unless the development switch is on; a generated
    one (256 random bits) the light cost."""
    assert Password("x", generated=True).scrypt_n() == LIGHT_SCRYPT_N
    assert CHOSEN.scrypt_n() == LIGHT_SCRYPT_N  # FAST_KDF_ENV=1 in these tests
    monkeypatch.delenv(FAST_KDF_ENV)
    assert CHOSEN.scrypt_n() == STANDARD_SCRYPT_N == 2**18


def test_password_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KeystoreError, match=f"set {PASSWORD_ENV}"):
        resolve_password(tmp_path)
    assert resolve_password(tmp_path, prompt=lambda: "typed") == Password("typed", generated=False)
    generated = resolve_password(tmp_path, generate=True)
    assert generated.generated and len(generated.value) >= 40
    assert os.stat(tmp_path / PASSWORD_FILE).st_mode & 0o777 == 0o600
    assert resolve_password(tmp_path, prompt=lambda: "typed") == generated  # the file comes first
    monkeypatch.setenv(PASSWORD_ENV, "from env")
    assert resolve_password(tmp_path) == Password("from env", generated=False)  # the environment first


def test_invalid_password_file_readable_by_others(tmp_path: Path) -> None:
    resolve_password(tmp_path, generate=True)
    os.chmod(tmp_path / PASSWORD_FILE, 0o644)
    with pytest.raises(KeystoreError, match="chmod 600"):
        resolve_password(tmp_path)


def test_invalid_empty_typed_password(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="empty password"):
        resolve_password(tmp_path, prompt=lambda: "")


def test_data_dir_password_is_generated_only_for_an_empty_keystore(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "keystore")
    keystore.save("alice", KEY, CHOSEN)  # a keystore under a person's password
    with pytest.raises(KeystoreError, match="no password"):
        data_dir_password(tmp_path)  # a generated password would not open alice
    assert not (tmp_path / "keystore" / PASSWORD_FILE).exists()
    assert data_dir_password(tmp_path / "other").generated


def test_keystore_directory(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path / "keys")
    assert keystore.names() == []
    address = keystore.save("alice", KEY, CHOSEN)
    bob = keystore.create("bob", CHOSEN)
    assert keystore.names() == ["alice", "bob"] and "alice" in keystore
    assert keystore.entries() == [("alice", address), ("bob", bob)]
    assert address == Account.from_key(KEY).address
    assert keystore.resolve("alice") == "alice" and keystore.resolve(address.lower()) == "alice"
    assert keystore.load("alice", CHOSEN.value) == KEY
    assert os.stat(keystore.path("alice")).st_mode & 0o777 == 0o600
    assert os.stat(tmp_path / "keys").st_mode & 0o777 == 0o700


def test_invalid_keystore_names_and_lookups(tmp_path: Path) -> None:
    keystore = Keystore(tmp_path)
    keystore.save("alice", KEY, CHOSEN)
    with pytest.raises(KeystoreError, match="already exists"):
        keystore.save("alice", KEY, CHOSEN)
    for bad in ("../escape", ".hidden", "", "a" * 65):
        with pytest.raises(KeystoreError, match="must be 1-64 letters"):
            keystore.path(bad)
    with pytest.raises(KeystoreError, match="no key named 'carol'"):
        keystore.resolve("carol")
    with pytest.raises(KeystoreError, match="no key for address"):
        keystore.resolve("0x" + "11" * 20)
    with pytest.raises(KeystoreError, match="that is a private key") as caught:
        keystore.resolve("0x" + KEY.hex())
    assert KEY.hex() not in str(caught.value)
    (tmp_path / "plain.json").write_text(json.dumps({"address": "00" * 20, "key": KEY.hex()}))
    with pytest.raises(KeystoreError, match="not an encrypted keystore"):
        keystore.load("plain", CHOSEN.value)
