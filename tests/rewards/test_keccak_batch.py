"""The batch keccak-256 kernels (opendepin.rewards.keccak_batch) against pysha3's `sha3.keccak_256`: every
row of random inputs of random lengths (a block boundary, 136 bytes, included) and counts (0, 1, odd,
around BATCH), only the rows asked for, and the tree-node kernels against the node hash of merkle.py."""

from __future__ import annotations

import numpy as np
import sha3
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.rewards import keccak_batch
from opendepin.rewards.merkle import hash_pair

keccak = sha3.keccak_256
counts = st.sampled_from([0, 1, 2, 3, 7, keccak_batch.BATCH, keccak_batch.BATCH + 1, 17, 33])
lengths = st.one_of(st.sampled_from([0, 1, 32, 64, 135, 136, 137, 272]), st.integers(0, 300))


@st.composite
def row_arrays(draw: st.DrawFn) -> np.ndarray:
    count, length = draw(counts), draw(lengths)
    data = draw(st.binary(min_size=count * length, max_size=count * length))
    return np.frombuffer(data, dtype=np.uint8).reshape(count, length).copy()


def test_known_digests() -> None:
    """Ethereum's keccak256 (padding 0x01), not SHA3-256 (0x06): keccak256("") and keccak256("abc")."""
    rows = np.array([[], []], dtype=np.uint8)
    out = np.zeros((2, 32), dtype=np.uint8)
    keccak_batch.keccak256_rows(rows, out, 0, 2)
    assert out[0].tobytes().hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    abc = np.frombuffer(b"abc", dtype=np.uint8).reshape(1, 3)
    keccak_batch.keccak256_rows(abc, out, 0, 1)
    assert out[0].tobytes().hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


@settings(max_examples=80, deadline=None)
@given(row_arrays())
def test_rows_and_leaf_hashes_equal_pysha3(rows: np.ndarray) -> None:
    single = np.zeros((len(rows), 32), dtype=np.uint8)
    double = np.zeros((len(rows), 32), dtype=np.uint8)
    keccak_batch.keccak256_rows(rows, single, 0, len(rows))
    keccak_batch.leaf_hashes(rows, double, 0, len(rows) + 5)  # hi past the end: clamped
    for row, one, two in zip(rows, single, double, strict=True):
        assert one.tobytes() == keccak(row.tobytes()).digest()
        assert two.tobytes() == keccak(keccak(row.tobytes()).digest()).digest()


@settings(max_examples=40, deadline=None)
@given(row_arrays(), st.data())
def test_only_the_rows_asked_for(rows: np.ndarray, data: st.DataObject) -> None:
    """A call writes rows lo … hi − 1 and nothing else (threads hash disjoint ranges of one array)."""
    lo = data.draw(st.integers(0, len(rows)))
    hi = data.draw(st.integers(lo, len(rows)))
    out = np.full((len(rows), 32), 0xAB, dtype=np.uint8)
    keccak_batch.leaf_hashes(rows, out, lo, hi)
    for i, row in enumerate(rows):
        expected = keccak(keccak(row.tobytes()).digest()).digest() if lo <= i < hi else bytes([0xAB]) * 32
        assert out[i].tobytes() == expected


@settings(max_examples=60, deadline=None)
@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=70), st.integers(0, 3))
def test_tree_nodes_equal_the_pair_hash(leaves: list[bytes], split: int) -> None:
    """`subtree` from the root, or under the nodes of one level then `parents` above them, gives every
    node keccak256(sorted children) as hash_pair (pysha3) does, equal children and children in either
    order included."""
    leaves = leaves + leaves[: len(leaves) // 4]  # some equal siblings
    n = len(leaves)
    reference = [b""] * (n - 1) + leaves
    for i in range(n - 2, -1, -1):
        reference[i] = hash_pair(reference[2 * i + 1], reference[2 * i + 2])
    nodes = np.zeros((2 * n - 1, 32), dtype=np.uint8)
    nodes[n - 1 :] = np.frombuffer(b"".join(leaves), dtype=np.uint8).reshape(n, 32)
    while split > 0 and (1 << (split + 1)) - 2 > n - 2:
        split -= 1
    for root in range((1 << split) - 1, (1 << (split + 1)) - 1):
        keccak_batch.subtree(nodes, n, root)
    for level in range(split - 1, -1, -1):
        keccak_batch.parents(nodes, (1 << level) - 1, (1 << (level + 1)) - 1)
    assert [nodes[i].tobytes() for i in range(2 * n - 1)] == reference
