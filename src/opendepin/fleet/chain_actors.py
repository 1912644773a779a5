"""The simulated people around the chain in `depin up`: the fleet's maker registering its devices in the
on-chain registry, the owners claiming what they are owed, and the price feeder keeping the oracle fresh.

Settlement itself (`opendepin.settlement`) knows none of them. Rules:
- every onboarded device is registered once (the maker signs owner and asserted cell, the operator pays);
- after each epoch the feeder posts `price_usd`, then a rotating `claim_share` of the owners claim: after
  epoch e, owners (e·k + i) mod n for i < k, with k = ⌈claim_share · n⌉; an owner without a leaf in the
  epoch's tree, or with nothing new, sends nothing;
- on a chain that charges gas the feeder and each claimer get FUNDING_WEI from the operator first.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from opendepin.chain.backend import ChainBackend
from opendepin.fleet.simulator import Fleet
from opendepin.node import Node
from opendepin.settlement import chain_device_key
from opendepin.store.base import EpochRecord

FUNDING_WEI = 10**18
"""Gas money an owner (before claiming) or the price feeder gets on a JSON-RPC chain (ignored by the
embedded chain)."""


def compute_claimers(owners: int, claim_share: float, epoch: int) -> list[int]:
    """Owner indices that claim after `epoch`: a rotating `claim_share` of `owners` wallets."""
    if owners <= 0:
        return []
    k = min(owners, math.ceil(claim_share * owners))
    return sorted({(epoch * k + i) % owners for i in range(k)})


def _mean(values: Sequence[int]) -> int | None:
    return round(sum(values) / len(values)) if values else None


@dataclass
class ChainActors:
    """The fleet's maker, owners and the price feeder acting on `backend`; keeps the claims' gas."""

    backend: ChainBackend
    fleet: Fleet
    claim_share: float
    price_usd: Decimal = Decimal(1)
    """What the feeder posts after each epoch, so the oracle never goes stale and credits sell."""
    gas: dict[str, list[int]] = field(default_factory=lambda: {"claim": []})
    claimed_total: int = 0

    def register_devices(self, node: Node) -> int:
        """Register every onboarded device on chain as the node recorded it (idempotent); returns how many
        were new."""
        registered = 0
        for device in self.fleet.devices:
            if not device.onboarded:
                continue
            stored = node.device(self.fleet.key_of(device).device_id)
            if stored is None:
                continue
            receipt = self.backend.onboard(
                self.fleet.maker.private_key,
                chain_device_key(stored.device_id),
                stored.owner,
                int(stored.location or "0", 16),
            )
            registered += receipt is not None
        return registered

    def feed_price(self) -> None:
        """Post `price_usd` as the feeder."""
        self.backend.fund(self.backend.keys.address("feeder"), FUNDING_WEI)
        self.backend.set_price(self.price_usd)

    def claim(self, node: Node, record: EpochRecord) -> dict[str, Any]:
        """Let this epoch's claimers claim everything they are owed: {claims, claimed}."""
        leaves = {str(owner).lower() for owner, _ in record.manifest["leaves"]}
        claims = 0
        claimed = 0
        for index in compute_claimers(len(self.fleet.owners), self.claim_share, record.number):
            wallet = self.fleet.owners[index]
            if wallet.address.lower() not in leaves:
                continue
            proof = node.proof(record.number, wallet.address)
            self.backend.fund(wallet.address, FUNDING_WEI)
            result = self.backend.claim_owed(
                wallet.private_key, int(proof["cumulative"]), [bytes.fromhex(p[2:]) for p in proof["proof"]]
            )
            if result is not None:
                self.gas["claim"].append(result.gas_used)
                self.claimed_total += result.amount
                claims += 1
                claimed += result.amount
        return {"claims": claims, "claimed": str(claimed)}

    def after_epoch(self, node: Node, record: EpochRecord) -> dict[str, Any]:
        """What happens on chain once an epoch is settled: a fresh price, then the claims."""
        self.feed_price()
        return self.claim(node, record)

    def summary(self) -> dict[str, Any]:
        """Mean gas of the claims sent."""
        return {"gas": {name: _mean(values) for name, values in self.gas.items()}}
