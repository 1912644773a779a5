"""Encrypted key storage: Ethereum keystore files (the "v3" JSON format of geth, MetaMask and eth-account).

A private key is never written in plain text: it is encrypted with AES-128-CTR under a key derived from a
password by scrypt, with a keccak MAC that detects a wrong password (`eth_account.Account.encrypt`). A
`Keystore` is a directory of such files, one per named key (`<name>.json`, mode 0600).

Where the password comes from (`resolve_password`), first match wins:
1. the environment variable `DEPIN_KEYSTORE_PASSWORD` (automation, servers);
2. the keystore directory's password file `.password` (mode 0600), which only a local development
   network creates (`depin up`, `depin chain deploy` on a new data dir without the variable): a random
   password, so the keys in the data dir are never in plain text, but anyone who can read the whole data
   dir can read the password too — the encryption protects copies of the JSON files (backups, logs,
   pastes, commits), not a data dir given away whole. Use the variable (or a prompt) for real keys;
3. a prompt, when the caller offers one (the `depin wallet` commands on a terminal).

scrypt cost: n = 2¹⁸, r = 8, p = 1 (the Ethereum default, about a second per key) for a person's
password. A generated password holds 256 random bits, which no stretching makes harder to guess, so its
keystores use n = 2¹² (milliseconds). `DEPIN_KEYSTORE_FAST_KDF=1` lowers a person's password to n = 2¹²
too: a development switch for tests, never for real keys.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import is_address, to_checksum_address

KEYSTORE_DIR = "keystore"
PASSWORD_ENV = "DEPIN_KEYSTORE_PASSWORD"
FAST_KDF_ENV = "DEPIN_KEYSTORE_FAST_KDF"
PASSWORD_FILE = ".password"
STANDARD_SCRYPT_N = 2**18
LIGHT_SCRYPT_N = 2**12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_HEX_KEY = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")


class KeystoreError(ValueError):
    """A keystore that cannot be read or written; the message says what to do."""


@dataclass(frozen=True)
class Password:
    """A keystore password and whether it was generated (random, 256 bits) rather than chosen by a person."""

    value: str
    generated: bool

    def scrypt_n(self) -> int:
        """scrypt's cost parameter for new keystores under this password (see the module docstring)."""
        if self.generated or os.environ.get(FAST_KDF_ENV) == "1":
            return LIGHT_SCRYPT_N
        return STANDARD_SCRYPT_N


def encrypt_key(private_key: bytes, password: Password) -> dict[str, Any]:
    """A v3 keystore (a JSON object) holding `private_key` (32 bytes) encrypted under `password`."""
    return dict(Account.encrypt(private_key, password.value, kdf="scrypt", iterations=password.scrypt_n()))


def decrypt_key(keystore: Mapping[str, Any], password: str, what: str = "keystore") -> bytes:
    """The private key in a v3 keystore; KeystoreError if the password is wrong or the file is damaged."""
    try:
        return bytes(Account.decrypt(dict(keystore), password))
    except ValueError as error:
        raise KeystoreError(
            f"cannot decrypt {what}: {error} (wrong password? it comes from {PASSWORD_ENV} or the "
            f"keystore's {PASSWORD_FILE} file)"
        ) from None


def is_keystore(value: object) -> bool:
    """True for a JSON object shaped like an encrypted keystore (it has a `crypto` section)."""
    return isinstance(value, Mapping) and isinstance(value.get("crypto") or value.get("Crypto"), Mapping)


def new_private_key() -> bytes:
    """A fresh random secp256k1 private key."""
    return bytes(Account.create().key)


def resolve_password(
    directory: Path, *, generate: bool = False, prompt: Callable[[], str] | None = None
) -> Password:
    """The password of the keystore in `directory`: environment, else its password file, else a new
    generated one (`generate`), else `prompt()`; KeystoreError when none applies."""
    from_env = os.environ.get(PASSWORD_ENV)
    if from_env:
        return Password(from_env, generated=False)
    path = Path(directory) / PASSWORD_FILE
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise KeystoreError(f"{path} is readable by other users: run `chmod 600 {path}`")
        return Password(path.read_text().strip(), generated=True)
    if generate:
        value = secrets.token_urlsafe(32)
        _write_private(path, value + "\n")
        return Password(value, generated=True)
    if prompt is not None:
        value = prompt()
        if not value:
            raise KeystoreError("an empty password protects nothing")
        return Password(value, generated=False)
    raise KeystoreError(
        f"no password for the keystore in {directory}: set {PASSWORD_ENV} (or run the command on a "
        "terminal to be asked)"
    )


def data_dir_keystore(data_dir: Path) -> Keystore:
    """The keystore of a network's data dir, `<data dir>/keystore/`: its chain role keys, wallets made
    with `depin wallet`, and the password file of a development network."""
    return Keystore(Path(data_dir) / KEYSTORE_DIR)


def data_dir_password(data_dir: Path) -> Password:
    """The password of a data dir's keystore, generated if the data dir has no key yet (see above)."""
    keystore = data_dir_keystore(data_dir)
    return resolve_password(keystore.directory, generate=not keystore.names())


def _refuse_private_key(value: str) -> None:
    """Refuse (without echoing it) a private key given where a key's name or address belongs."""
    if _HEX_KEY.match(value):
        raise KeystoreError(
            "that is a private key, not a key name or address: never pass a key as an argument (it stays "
            "in the shell history); store it with `depin wallet import NAME` and pass NAME"
        )


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` atomically with mode 0600 (directory 0700 if created)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class Keystore:
    """A directory of named v3 keystore files (`<name>.json`); reading addresses needs no password."""

    directory: Path

    def path(self, name: str) -> Path:
        """The file of key `name` (KeystoreError for a name that is not a plain file name)."""
        _refuse_private_key(name)
        if not _NAME.match(name):
            raise KeystoreError(
                f"key name {name!r} must be 1-64 letters, digits, '.', '_' or '-', starting with a letter "
                "or digit"
            )
        return Path(self.directory) / f"{name}.json"

    def names(self) -> list[str]:
        """Names of the stored keys, sorted."""
        if not Path(self.directory).is_dir():
            return []
        return sorted(p.stem for p in Path(self.directory).glob("*.json") if _NAME.match(p.stem))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def _read(self, name: str) -> dict[str, Any]:
        path = self.path(name)
        try:
            document = json.loads(path.read_text())
        except FileNotFoundError:
            raise KeystoreError(f"no key named {name!r} in {self.directory}") from None
        except ValueError:
            raise KeystoreError(f"{path} is not a JSON keystore") from None
        if not is_keystore(document):
            raise KeystoreError(f"{path} is not an encrypted keystore (no 'crypto' section)")
        return dict(document)

    def address(self, name: str) -> str:
        """Checksummed address of key `name`, from its file (no decryption)."""
        raw = str(self._read(name).get("address", ""))
        if not is_address("0x" + raw.removeprefix("0x")):
            raise KeystoreError(f"{self.path(name)} has no valid address field")
        return to_checksum_address("0x" + raw.removeprefix("0x"))

    def entries(self) -> list[tuple[str, str]]:
        """(name, address) of every stored key."""
        return [(name, self.address(name)) for name in self.names()]

    def resolve(self, name_or_address: str) -> str:
        """The name of the key called `name_or_address`, or holding that address."""
        _refuse_private_key(name_or_address)
        if is_address(name_or_address):
            wanted = name_or_address.lower()
            for name, address in self.entries():
                if address.lower() == wanted:
                    return name
            raise KeystoreError(f"no key for address {name_or_address} in {self.directory}")
        if name_or_address not in self:
            known = ", ".join(self.names()) or "none"
            raise KeystoreError(f"no key named {name_or_address!r} in {self.directory} (known: {known})")
        return name_or_address

    def save(self, name: str, private_key: bytes, password: Password) -> str:
        """Store `private_key` encrypted as `name` (never overwriting one); returns its address."""
        path = self.path(name)
        if path.exists():
            raise KeystoreError(f"a key named {name!r} already exists in {self.directory}")
        keystore = encrypt_key(private_key, password)
        _write_private(path, json.dumps(keystore, indent=2) + "\n")
        return to_checksum_address("0x" + str(keystore["address"]))

    def create(self, name: str, password: Password) -> str:
        """Store a new random key as `name`; returns its address."""
        return self.save(name, new_private_key(), password)

    def load(self, name: str, password: str) -> bytes:
        """The private key `name`, decrypted."""
        return decrypt_key(self._read(name), password, what=str(self.path(name)))
