"""Merkle proofs for an owner's cumulative reward in a closed epoch (rebuilt from the manifest's leaves)."""

from __future__ import annotations

from typing import Any

from opendepin.rewards.merkle import RewardsTree, hash_leaf, verify_proof
from opendepin.store.base import Store


class ProofError(LookupError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def tree_of(store: Store, number: int) -> RewardsTree:
    record = store.get_epoch(number)
    if record is None:
        raise ProofError("epoch.not_closed", f"epoch {number} is not closed")
    leaves = record.manifest.get("leaves", [])
    if not leaves:
        raise ProofError("epoch.no_rewards", f"epoch {number} paid nobody, so it has no rewards tree")
    tree = RewardsTree.build((owner, int(amount)) for owner, amount in leaves)
    if tree.root_hex != record.manifest["root"]:
        raise ProofError("epoch.corrupt", f"stored leaves of epoch {number} do not rebuild its root")
    return tree


def proof_for(store: Store, number: int, address: str) -> dict[str, Any]:
    """{epoch, root, account, cumulative, leaf, proof} — what a claim transaction needs."""
    tree = tree_of(store, number)
    try:
        index = tree.leaf_index(address)
    except ValueError:
        raise ProofError("owner.no_leaf", f"{address} has no cumulative reward in epoch {number}") from None
    del index
    account = next(owner for owner, _ in tree.values if owner.lower() == address.lower())
    amount = tree.amount_of(account)
    proof = tree.proof(account)
    leaf = hash_leaf(account, amount)
    assert verify_proof(tree.root, leaf, proof)
    return {
        "epoch": number,
        "root": tree.root_hex,
        "account": account,
        "cumulative": str(amount),
        "leaf": "0x" + leaf.hex(),
        "proof": ["0x" + p.hex() for p in proof],
    }
