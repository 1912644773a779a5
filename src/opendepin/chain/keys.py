"""The node's chain keys, one per role, in the data dir's encrypted keystore (`<data dir>/keystore/`).

Roles (README, "Who holds what"): `operator` deploys the contracts and pays gas for postings and
onboardings, and holds no power once deployment is done; `admin` proposes and executes timelocked
changes; `pauser` may pause the registry, the credits vault and the distributor; `feeder` posts the token
price; `oracle-1` … `oracle-n` sign epoch roots (k of n); `maker-1` … attest devices. A local development
network generates every missing key on first use (password: see `opendepin.identity.keystore`); on a
public chain create them with `depin wallet new NAME` on the machines that hold them and keep only the
operator here, or pass the operator key in `DEPIN_OPERATOR_KEY`. Keys are decrypted on first use, so a
command that only reads the chain never decrypts anything.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from eth_account import Account

from opendepin.identity.keystore import (
    Keystore,
    KeystoreError,
    Password,
    data_dir_keystore,
    data_dir_password,
    resolve_password,
)

OPERATOR_KEY_ENV = "DEPIN_OPERATOR_KEY"
LEGACY_KEYS_FILE = Path("chain") / "keys.json"

PrivateKey = str | bytes
"""A secp256k1 private key: 0x-hex string or 32 raw bytes (e.g. an `identity.wallets.Wallet`'s key)."""


def oracle_name(index: int) -> str:
    """Keystore name of the `index`-th oracle (0-based index, 1-based name)."""
    return f"oracle-{index + 1}"


def maker_name(index: int) -> str:
    """Keystore name of the `index`-th maker (0-based index, 1-based name)."""
    return f"maker-{index + 1}"


SINGLE_ROLES = ("operator", "admin", "pauser", "feeder", "router")
"""`router` spends users' data credits for the usage the node metered (the DataCredits router role)."""


class ChainKeys:
    """Private keys (0x-hex) of the chain roles, decrypted from the keystore on first use.

    `threshold` of the `oracles` sign each posting. `DEPIN_OPERATOR_KEY` (0x-hex), when set, replaces the
    operator's keystore entry.
    """

    def __init__(
        self, keystore: Keystore, password: Password | None, oracle_count: int, threshold: int, makers: int
    ) -> None:
        self.keystore = keystore
        self._password = password
        self.oracle_count = oracle_count
        self.threshold = threshold
        self.maker_count = makers

    def _key(self, name: str) -> str:
        """Decrypt role `name`; a keystore problem becomes a ChainError that says what to do."""
        from opendepin.chain.backend import ChainError  # the backend imports this module

        try:
            if self._password is None:
                self._password = resolve_password(self.keystore.directory)
            return "0x" + self.keystore.load(name, self._password.value).hex()
        except KeystoreError as error:
            raise ChainError(f"the {name} key is unavailable: {error}") from error

    def address(self, name: str) -> str:
        """Address of role `name` (e.g. "admin", "oracle-1"), without decrypting its key."""
        if name == "operator" and os.environ.get(OPERATOR_KEY_ENV):
            return str(Account.from_key(os.environ[OPERATOR_KEY_ENV]).address)
        return self.keystore.address(name)

    @cached_property
    def operator(self) -> str:
        return os.environ.get(OPERATOR_KEY_ENV) or self._key("operator")

    @cached_property
    def admin(self) -> str:
        return self._key("admin")

    @cached_property
    def pauser(self) -> str:
        return self._key("pauser")

    @cached_property
    def feeder(self) -> str:
        return self._key("feeder")

    @cached_property
    def router(self) -> str:
        return self._key("router")

    @cached_property
    def oracles(self) -> tuple[str, ...]:
        return tuple(self._key(oracle_name(i)) for i in range(self.oracle_count))

    @cached_property
    def makers(self) -> tuple[str, ...]:
        return tuple(self._key(maker_name(i)) for i in range(self.maker_count))

    @property
    def oracle_addresses(self) -> tuple[str, ...]:
        return tuple(self.address(oracle_name(i)) for i in range(self.oracle_count))

    @property
    def maker_addresses(self) -> tuple[str, ...]:
        return tuple(self.address(maker_name(i)) for i in range(self.maker_count))


def load_or_create_keys(
    data_dir: Path, oracle_count: int = 1, threshold: int = 1, makers: int = 1
) -> ChainKeys:
    """The chain keys of `data_dir`, creating missing ones in its keystore (a development network).

    A new keystore gets a generated password unless `DEPIN_KEYSTORE_PASSWORD` is set; an existing one
    needs its password only to add keys, or when a key is used.
    """
    if not 1 <= threshold <= oracle_count:
        raise ValueError(f"oracle_threshold {threshold} must be between 1 and oracle_count {oracle_count}")
    if (Path(data_dir) / LEGACY_KEYS_FILE).exists():
        raise KeystoreError(
            f"{Path(data_dir) / LEGACY_KEYS_FILE} holds keys in plain text (an older opendepin, whose "
            "contracts this version cannot settle on): start a new data dir"
        )
    keystore = data_dir_keystore(data_dir)
    wanted = [
        *SINGLE_ROLES,
        *(oracle_name(i) for i in range(oracle_count)),
        *(maker_name(i) for i in range(makers)),
    ]
    stored = set(keystore.names())
    missing = [name for name in wanted if name not in stored]
    password: Password | None = None
    if missing:
        password = data_dir_password(data_dir)
        for name in missing:
            keystore.create(name, password)
    return ChainKeys(keystore, password, oracle_count, threshold, makers)
