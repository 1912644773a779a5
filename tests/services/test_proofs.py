"""Proofs come from one tree per epoch, built once, also when many requests arrive together."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from opendepin.rewards.merkle import RewardsTree, hash_leaf, verify_proof
from opendepin.rewards.proofs import ProofError
from opendepin.services.proofs import ProofService
from opendepin.store.base import EpochRecord
from opendepin.store.sqlite import SQLiteStore

LEAVES = [(f"0x{i:040X}", i * 1_000) for i in range(1, 301)]


@pytest.fixture
def service(tmp_path: Path) -> ProofService:
    store = SQLiteStore(tmp_path / "p.sqlite")
    tree = RewardsTree.build(LEAVES)
    manifest = {"root": tree.root_hex, "leaves": [[a, str(v)] for a, v in LEAVES]}
    store.save_epoch(EpochRecord(0, 0, 86_400, manifest, {}))
    store.save_epoch(EpochRecord(1, 86_400, 172_800, {"root": None, "leaves": []}, {}))
    return ProofService(store, cached=2)


def test_many_concurrent_requests_build_the_tree_once(service: ProofService) -> None:
    addresses = [address.lower() for address, _ in LEAVES] * 3
    with ThreadPoolExecutor(8) as pool:
        proofs = list(pool.map(lambda a: service.proof(0, a), addresses))
    assert service.builds == 1
    for proof, (address, amount) in zip(proofs, LEAVES * 3, strict=True):
        assert proof["account"] == address and proof["cumulative"] == str(amount)
        leaf = hash_leaf(address, amount)
        path = [bytes.fromhex(p[2:]) for p in proof["proof"]]
        assert verify_proof(bytes.fromhex(proof["root"][2:]), leaf, path)


def test_invalid_requests_name_their_reason(service: ProofService) -> None:
    for number, address, reason in [
        (0, "0x" + "ab" * 20, "owner.no_leaf"),
        (1, LEAVES[0][0], "epoch.no_rewards"),
        (5, LEAVES[0][0], "epoch.not_closed"),
    ]:
        with pytest.raises(ProofError) as info:
            service.proof(number, address)
        assert info.value.reason == reason
