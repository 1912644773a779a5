"""Settlement of closed epochs on the chain: the shell between the node and a ChainBackend. Registers the
fleet's devices in the on-chain registry (the maker signs owner and location), posts every epoch's rewards
root in order (with the manifest hash and the running total the root pays; the empty root while nobody was
ever paid), refreshes the oracle price as the feeder, and lets a share of owners claim what they are owed."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from eth_utils import keccak

from opendepin.chain.backend import ChainBackend
from opendepin.fleet.simulator import Fleet
from opendepin.node import Node
from opendepin.rewards.digest import canonical_json
from opendepin.rewards.proofs import proof_for
from opendepin.store.base import EpochRecord

FUNDING_WEI = 10**18
"""Gas money an owner (before claiming) or the price feeder gets on a JSON-RPC chain (ignored by the
embedded chain)."""


def chain_device_key(device_id: str) -> bytes:
    """The registry's 32-byte key of a device: SHA-256 of its id (ed25519 and P-256 ids alike)."""
    return hashlib.sha256(device_id.encode()).digest()


def compute_manifest_hash(manifest: dict[str, Any]) -> bytes:
    """keccak-256 of the manifest's canonical JSON: what the oracles sign next to the root."""
    return keccak(canonical_json(manifest))


def compute_tree_total(manifest: dict[str, Any]) -> int:
    """The running total an epoch's root pays: Σ of its cumulative leaves (0 for a tree without leaves).

    Every owner's leaf is its lifetime reward, so this is everything ever paid up to this epoch: what the
    oracles sign and the distributor lets claims reach, never more.
    """
    return sum(int(amount) for _owner, amount in manifest["leaves"])


@dataclass
class Settler:
    """Posts roots and claims for `depin up`; keeps the gas figures for the summary."""

    backend: ChainBackend
    claim_share: float
    price_usd: Decimal = Decimal(1)
    """What the simulated price feeder posts each epoch, so the oracle never goes stale and credits sell."""
    gas: dict[str, list[int]] = field(default_factory=lambda: {"post_epoch": [], "claim": []})
    claimed_total: int = 0

    def register_fleet(self, node: Node, fleet: Fleet) -> int:
        """Register every onboarded device on chain (idempotent); returns how many were new."""
        registered = 0
        for device in fleet.devices:
            if not device.onboarded:
                continue
            stored = node.store.get_device(fleet.key_of(device).device_id)
            if stored is None:
                continue
            receipt = self.backend.onboard(
                fleet.maker.private_key,
                chain_device_key(stored.device_id),
                stored.owner,
                int(stored.location or "0", 16),
            )
            registered += receipt is not None
        return registered

    def claimers(self, fleet: Fleet, epoch: int) -> list[int]:
        """Owner indices that claim after `epoch`: a rotating `claim_share` of the wallets."""
        n = len(fleet.owners)
        k = min(n, math.ceil(self.claim_share * n))
        return sorted({(epoch * k + i) % n for i in range(k)})

    def settle(self, node: Node, record: EpochRecord, fleet: Fleet) -> dict[str, Any]:
        """Post the epoch's root (every epoch, in order: the chain accepts no gap) and let this epoch's
        claimers claim."""
        manifest = dict(record.manifest)
        root = manifest.get("root")
        settlement = self.backend.settle_epoch(
            record.number,
            None if root is None else bytes.fromhex(root[2:]),
            compute_manifest_hash(manifest),
            compute_tree_total(manifest),
        )
        if settlement.receipt is not None:
            self.gas["post_epoch"].append(settlement.receipt.gas_used)
        self.backend.fund(self.backend.keys.address("feeder"), FUNDING_WEI)
        self.backend.set_price(self.price_usd)
        claims = []
        leaves = {owner.lower() for owner, _ in manifest["leaves"]}
        for index in self.claimers(fleet, record.number):
            wallet = fleet.owners[index]
            if wallet.address.lower() not in leaves:
                continue
            proof = proof_for(node.store, record.number, wallet.address)
            self.backend.fund(wallet.address, FUNDING_WEI)
            result = self.backend.claim_owed(
                wallet.private_key, int(proof["cumulative"]), [bytes.fromhex(p[2:]) for p in proof["proof"]]
            )
            if result is not None:
                self.gas["claim"].append(result.gas_used)
                self.claimed_total += result.amount
                claims.append({"owner": result.account, "amount": str(result.amount), "tx": result.tx_hash})
        return {
            "settlement": settlement.status,
            "claims": len(claims),
            "claimed": str(sum(int(c["amount"]) for c in claims)),
        }

    def summary(self) -> dict[str, Any]:
        def mean(values: list[int]) -> int | None:
            return round(sum(values) / len(values)) if values else None

        return {
            "contracts": self.backend.contracts,
            "gas": {"post_epoch": mean(self.gas["post_epoch"]), "claim": mean(self.gas["claim"])},
            "total_supply": str(self.backend.total_supply()),
            "total_claimed": str(self.backend.status().total_claimed),
        }
