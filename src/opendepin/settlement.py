"""Settlement of closed epochs on the chain (docs/architecture.md): post every epoch's rewards root in order
with its manifest hash, the running total the root pays and k-of-n oracle signatures, then spend on chain
the data credits of the usage the epoch paid for (the burn users made is the network's revenue).

The shell between the store and a ChainBackend: it knows epoch records and payers' receipts, nothing of
the simulator (`depin up`'s simulated makers, owners and price feeder live in `fleet/chain_actors.py`).

Rules:
- epochs are posted in order, each exactly once (`ChainBackend.settle_epoch` is safe to re-run);
- credits are spent only after the epoch's root is posted, as the router role, per payer, for the
  receipts received in the epoch's window and not yet settled; a payer whose balance fell short (spent
  elsewhere since) is spent down to what it holds and the shortfall reported;
- a payer's receipts are marked settled right after its spend is mined, so a re-run spends only the
  payers not yet marked. The chain keeps no record of which usage a spend paid for: a crash between a
  mined spend and the store's mark would spend that payer's credits again on the re-run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_utils import keccak

from opendepin.chain.backend import ChainBackend
from opendepin.rewards.digest import canonical_json
from opendepin.store.base import EpochRecord, Store


def chain_device_key(device_id: str) -> bytes:
    """The registry's 32-byte key of a device: SHA-256 of its id (ed25519 and P-256 ids alike)."""
    return hashlib.sha256(device_id.encode()).digest()


def compute_manifest_hash(manifest: Mapping[str, Any]) -> bytes:
    """keccak-256 of the manifest's canonical JSON: what the oracles sign next to the root."""
    return keccak(canonical_json(dict(manifest)))


def compute_tree_total(manifest: Mapping[str, Any]) -> int:
    """The running total an epoch's root pays: Σ of its cumulative leaves (0 for a tree without leaves).

    Every owner's leaf is its lifetime reward, so this is everything ever paid up to this epoch: what the
    oracles sign and the distributor lets claims reach, never more.
    """
    return sum(int(amount) for _owner, amount in manifest["leaves"])


def usage_tag(epoch: int) -> bytes:
    """The reason recorded on chain with the credits spent for epoch `epoch`'s usage (keccak of a text)."""
    return keccak(f"opendepin usage epoch {epoch}".encode())


def _mean(values: Sequence[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


@dataclass
class EpochSettler:
    """Posts closed epochs and spends their usage credits; keeps gas figures for the summary."""

    backend: ChainBackend
    store: Store
    gas: dict[str, list[int]] = field(default_factory=lambda: {"post_epoch": [], "spend_credits": []})

    def post(self, record: EpochRecord, signatures: Sequence[bytes] | None = None) -> str:
        """Post the epoch's root (every epoch, in order: the chain accepts no gap); `signatures` are the
        oracles' (None: signed with the oracle keys this data dir holds). Returns `posted` or
        `already_posted`."""
        manifest = record.manifest
        root = manifest.get("root")
        settlement = self.backend.settle_epoch(
            record.number,
            None if root is None else bytes.fromhex(str(root)[2:]),
            compute_manifest_hash(manifest),
            compute_tree_total(manifest),
            signatures,
        )
        if settlement.receipt is not None:
            self.gas["post_epoch"].append(settlement.receipt.gas_used)
        return settlement.status

    def spend_usage(self, record: EpochRecord) -> dict[str, int]:
        """Spend, as the router, each payer's credits for the receipts the epoch counted (module rules)."""
        spent = shortfall = 0
        payers = self.store.unsettled_usage_between(record.start, record.end)
        for payer, credits in sorted(payers.items()):
            amount = min(credits, self.backend.credits_of(payer))
            if amount > 0:
                receipt = self.backend.spend_credits(payer, amount, usage_tag(record.number))
                self.gas["spend_credits"].append(receipt.gas_used)
            self.store.mark_usage_settled(record.start, record.end, payer, record.number)
            spent += amount
            shortfall += credits - amount
        return {"credits_spent": spent, "credit_shortfall": shortfall, "payers": len(payers)}

    def settle(self, record: EpochRecord, signatures: Sequence[bytes] | None = None) -> dict[str, Any]:
        """Post the epoch, then spend its usage credits: {settlement, credits_spent, credit_shortfall,
        payers}."""
        status = self.post(record, signatures)
        return {"settlement": status, **self.spend_usage(record)}

    def summary(self) -> dict[str, Any]:
        """Contracts, mean gas per kind of transaction sent, token supply, everything claimed."""
        return {
            "contracts": self.backend.contracts,
            "gas": {name: _mean(values) for name, values in self.gas.items()},
            "total_supply": str(self.backend.total_supply()),
            "total_claimed": str(self.backend.status().total_claimed),
        }
