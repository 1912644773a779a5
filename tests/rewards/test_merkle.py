"""The rewards tree against OpenZeppelin's own StandardMerkleTree (JavaScript), plus proof properties."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.rewards import merkle
from opendepin.rewards.merkle import MerkleError, RewardsTree, hash_leaf, verify_proof

JS = Path(__file__).resolve().parents[2] / "tools" / "js"

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
leaf_sets = st.dictionaries(addresses, st.integers(0, 2**256 - 1), min_size=1, max_size=40)


def _oz(values: list[tuple[str, int]]) -> dict[str, object]:
    if shutil.which("node") is None or not (JS / "node_modules" / "@openzeppelin").exists():
        pytest.fail("OpenZeppelin reference missing: run `make test` (it installs tools/js)")
    out = subprocess.run(
        ["node", str(JS / "oz_tree.mjs")],
        input=json.dumps([[a, str(v)] for a, v in values]),
        capture_output=True,
        text=True,
        check=True,
        cwd=JS,
    )
    return json.loads(out.stdout)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 257])
def test_matches_openzeppelin(size: int) -> None:
    values = [("0x" + (i + 1).to_bytes(20, "big").hex(), (i * 7919) ** 3) for i in range(size)]
    tree = RewardsTree.build(values)
    reference = _oz(values)
    assert tree.root_hex == reference["root"]
    for (address, _), proof in zip(values, reference["proofs"], strict=True):  # type: ignore[call-overload]
        assert ["0x" + p.hex() for p in tree.proof(address)] == proof


@settings(max_examples=60, deadline=None)
@given(leaf_sets)
def test_every_proof_verifies_and_tampering_fails(values: dict[str, int]) -> None:
    tree = RewardsTree.build(values.items())
    for address, amount in values.items():
        proof = tree.proof(address)
        assert verify_proof(tree.root, hash_leaf(address, amount), proof)
        assert not verify_proof(tree.root, hash_leaf(address, amount ^ 1), proof)
        if proof:
            bad = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
            assert not verify_proof(tree.root, hash_leaf(address, amount), bad)


def test_invalid_inputs() -> None:
    with pytest.raises(MerkleError):
        RewardsTree.build([])
    with pytest.raises(MerkleError):
        RewardsTree.build([("0x12", 1)])
    with pytest.raises(MerkleError):
        RewardsTree.build([("0x" + "11" * 20, -1)])
    with pytest.raises(MerkleError, match="twice"):
        RewardsTree.build([("0x" + "11" * 20, 1), ("0x" + "11" * 20, 2)])
    tree = RewardsTree.build([("0x" + "11" * 20, 1)])
    with pytest.raises(MerkleError):
        tree.proof("0x" + "22" * 20)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 6, 7, 9, 16, 17, 31, 100, 1_000, 4_097])
def test_two_thread_build_is_byte_identical(size: int) -> None:
    values = [("0x" + (i * 7 + 3).to_bytes(20, "big").hex(), (i * 104729) ** 5) for i in range(size)]
    one = RewardsTree.build(values, workers=1)
    two = RewardsTree.build(values, workers=2)
    assert two.tree == one.tree
    for address, _ in values[:: max(1, size // 10)]:
        assert two.proof(address) == one.proof(address)


def test_two_thread_build_matches_openzeppelin() -> None:
    values = [("0x" + (i + 11).to_bytes(20, "big").hex(), i * 3 + 1) for i in range(1_500)]
    tree = RewardsTree.build(values, workers=2)
    reference = _oz(values)
    assert tree.root_hex == reference["root"]
    assert ["0x" + p.hex() for p in tree.proof(values[7][0])] == reference["proofs"][7]  # type: ignore[index]


def test_two_thread_build_reports_a_bad_leaf_and_a_repeated_address() -> None:
    good = [("0x" + (i + 1).to_bytes(20, "big").hex(), i) for i in range(50)]
    with pytest.raises(MerkleError):
        RewardsTree.build([*good, ("0x1234", 5)], workers=2)
    with pytest.raises(MerkleError, match="twice"):
        RewardsTree.build([*good, (good[3][0].upper().replace("0X", "0x"), 9)], workers=2)


@pytest.mark.parametrize("workers", [1, 2])
def test_address_spellings_all_encode_alike(workers: int) -> None:
    """Addresses decoded all at once ("0x"/"0X", either case) or, for any other spelling bytes.fromhex
    accepts (whitespace between digit pairs), leaf by leaf: the same leaves as the lower-case spelling."""
    canonical = [("0x" + (i * 7919 + 5).to_bytes(20, "big").hex(), i) for i in range(40)]
    spelled = [
        ("0X" + a[2:].upper(), v) if i % 2 else (a[:7] + a[7:].upper(), v)
        for i, (a, v) in enumerate(canonical)
    ]
    spaced = [*spelled[:-1], ("0x" + " ".join(canonical[-1][0][2 + k : 4 + k] for k in range(0, 40, 2)), 39)]
    expected = RewardsTree.build(canonical, workers=1).tree
    assert RewardsTree.build(spelled, workers=workers).tree == expected
    assert RewardsTree.build(spaced, workers=workers).tree == expected


def test_large_tree_paths_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """From PARALLEL_MIN_LEAVES leaves (lowered here) the kernels hash the tree, on both cores by default
    and on this thread alone with workers=1: the same bytes as the pysha3 build below the threshold."""
    values = [("0x" + (i * 104729 + 1).to_bytes(20, "big").hex(), i**3) for i in range(300)]
    small = RewardsTree.build(values)
    monkeypatch.setattr(merkle, "PARALLEL_MIN_LEAVES", 100)
    assert RewardsTree.build(values).tree == small.tree
    assert RewardsTree.build(values, workers=1).tree == small.tree
