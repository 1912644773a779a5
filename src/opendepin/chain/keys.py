"""Keys the node uses on chain: the operator (deployer, admin, price feeder), the oracle signers, makers.

Stored in `<data dir>/chain/keys.json` (file mode 0600), generated on first use. These are development
keys for a local network. On a public chain, pass the operator key in the environment variable
`DEPIN_OPERATOR_KEY` and keep oracle keys on separate machines (a posting needs k-of-n signatures,
which `post_epoch` accepts from outside).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

OPERATOR_KEY_ENV = "DEPIN_OPERATOR_KEY"

PrivateKey = str | bytes
"""A secp256k1 private key: 0x-hex string or 32 raw bytes (e.g. an `identity.wallets.Wallet`'s key)."""


@dataclass(frozen=True)
class ChainKeys:
    """Private keys (0x-hex). `threshold` of the `oracles` sign each posting."""

    operator: str
    oracles: tuple[str, ...]
    threshold: int
    makers: tuple[str, ...]


def _new_key() -> str:
    return "0x" + secrets.token_hex(32)


def load_or_create_keys(
    data_dir: Path, oracle_count: int = 1, threshold: int = 1, makers: int = 1
) -> ChainKeys:
    """Keys of `data_dir`, creating missing ones; the operator key can be overridden by the environment."""
    if not 1 <= threshold <= oracle_count:
        raise ValueError(f"oracle_threshold {threshold} must be between 1 and oracle_count {oracle_count}")
    path = Path(data_dir) / "chain" / "keys.json"
    stored: dict[str, object] = json.loads(path.read_text()) if path.exists() else {}
    oracles = [str(k) for k in stored.get("oracles", [])]  # type: ignore[attr-defined]
    maker_keys = [str(k) for k in stored.get("makers", [])]  # type: ignore[attr-defined]
    operator = str(stored.get("operator") or _new_key())
    changed = not path.exists() or len(oracles) < oracle_count or len(maker_keys) < makers
    oracles += [_new_key() for _ in range(oracle_count - len(oracles))]
    maker_keys += [_new_key() for _ in range(makers - len(maker_keys))]
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"operator": operator, "oracles": oracles, "makers": maker_keys}, handle, indent=2)
        os.replace(tmp, path)
    override = os.environ.get(OPERATOR_KEY_ENV)
    return ChainKeys(
        operator=override or operator,
        oracles=tuple(oracles[:oracle_count]),
        threshold=threshold,
        makers=tuple(maker_keys),
    )
