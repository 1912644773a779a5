"""Merkle proofs of owners' cumulative rewards, from one tree per closed epoch built once and cached.

Building a 1,000,000-leaf tree takes seconds; a proof from a built tree takes microseconds. Closed epochs
never change, so the last few trees stay in memory (bounded), and the API asks for proofs in a worker
thread, never on the event loop.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from opendepin.rewards.merkle import RewardsTree, hash_leaf, verify_proof
from opendepin.rewards.proofs import ProofError
from opendepin.store.base import Store

CACHED_TREES = 4


class ProofService:
    """Proofs for closed epochs; each epoch's tree is built at most once while it stays cached."""

    def __init__(self, store: Store, cached: int = CACHED_TREES) -> None:
        self.store = store
        self.cached = cached
        self._trees: OrderedDict[int, RewardsTree] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[int, threading.Lock] = {}
        self.builds = 0

    def tree(self, number: int) -> RewardsTree:
        """The rewards tree of closed epoch `number`, built from its stored leaves and checked."""
        with self._lock:
            if number in self._trees:
                self._trees.move_to_end(number)
                return self._trees[number]
            building = self._building.setdefault(number, threading.Lock())
        with building:  # one build per epoch even when many requests arrive together
            with self._lock:
                if number in self._trees:
                    return self._trees[number]
            record = self.store.get_epoch(number)
            if record is None:
                raise ProofError("epoch.not_closed", f"epoch {number} is not closed")
            leaves = record.manifest.get("leaves", [])
            if not leaves:
                raise ProofError("epoch.no_rewards", f"epoch {number} paid nobody, so it has no rewards tree")
            tree = RewardsTree.build((owner, int(amount)) for owner, amount in leaves)
            if tree.root_hex != record.manifest["root"]:
                raise ProofError("epoch.corrupt", f"stored leaves of epoch {number} do not rebuild its root")
            self.builds += 1
            with self._lock:
                self._trees[number] = tree
                while len(self._trees) > self.cached:
                    self._trees.popitem(last=False)
                self._building.pop(number, None)
            return tree

    def proof(self, number: int, address: str) -> dict[str, Any]:
        """{epoch, root, account, cumulative, leaf, proof}: what a claim transaction needs."""
        tree = self.tree(number)
        try:
            account, amount = tree.entry(address)
        except ValueError:
            message = f"{address} has no cumulative reward in epoch {number}"
            raise ProofError("owner.no_leaf", message) from None
        proof = tree.proof(account)
        leaf = hash_leaf(account, amount)
        if not verify_proof(tree.root, leaf, proof):  # pragma: no cover - the tree built this proof
            raise ProofError("epoch.corrupt", f"the proof of {account} does not verify")
        return {
            "epoch": number,
            "root": tree.root_hex,
            "account": account,
            "cumulative": str(amount),
            "leaf": "0x" + leaf.hex(),
            "proof": ["0x" + p.hex() for p in proof],
        }


def proof_for(store: Store, number: int, address: str) -> dict[str, Any]:
    """One proof, building the epoch's tree for it (for one-off readers: `depin epoch proof`, `depin claim`;
    a serving node keeps a ProofService)."""
    return ProofService(store, cached=1).proof(number, address)
