"""Compiled contracts (ABI + init bytecode) of the settlement layer (issue 3, "Contracts").

The Vyper sources live in `contracts/`; they import snekmate modules from the installed package.
Compilation goes through titanoboa's loader, which caches compiler output on disk, so a process pays
the compile cost (a few seconds per contract) once per source version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).parent / "contracts"

CONTRACT_FILES: dict[str, str] = {
    "Timelock": "timelock.vy",
    "Token": "token.vy",
    "PriceOracle": "price_oracle.vy",
    "DataCredits": "data_credits.vy",
    "DeviceRegistry": "device_registry.vy",
    "RewardsDistributor": "rewards_distributor.vy",
}
"""Contract name (as used in `contracts` of the `depin up` summary) → source file."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract."""

    name: str
    abi: tuple[dict[str, Any], ...]
    bytecode: bytes
    source_digest: str


def contract_path(name: str) -> Path:
    """The source file of contract `name`."""
    try:
        return CONTRACTS_DIR / CONTRACT_FILES[name]
    except KeyError:
        raise KeyError(f"unknown contract {name!r}; known: {sorted(CONTRACT_FILES)}") from None


def sources_digest() -> str:
    """sha256 over all contract sources (identifies the contract version a deployment used)."""
    digest = hashlib.sha256()
    for path in sorted(CONTRACTS_DIR.iterdir()):
        if path.suffix in {".vy", ".vyi"}:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@cache
def load_artifact(name: str) -> Artifact:
    """Compile (or fetch from titanoboa's cache) contract `name`."""
    import boa  # heavy import, deferred
    from vyper.compiler.output import build_abi_output

    path = contract_path(name)
    deployer = boa.load_partial(str(path))
    bytecode = bytes(deployer.compiler_data.bytecode)
    return Artifact(
        name=name,
        abi=tuple(build_abi_output(deployer.compiler_data)),
        bytecode=bytecode,
        source_digest=hashlib.sha256(path.read_bytes()).hexdigest(),
    )


def load_all() -> dict[str, Artifact]:
    """All contracts, compiled."""
    return {name: load_artifact(name) for name in CONTRACT_FILES}
