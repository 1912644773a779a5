"""Merkle proofs of retrievability over 4 KiB leaves."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.storage import merkle


def levels_of(data: bytes, leaf_size: int) -> list[list[bytes]]:
    return merkle.build_levels([merkle.hash_leaf(leaf) for leaf in merkle.iter_leaves(data, leaf_size)])


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=3_000), st.sampled_from([64, 128, 256]), st.data())
def test_every_leaf_proves_against_the_root(data: bytes, leaf_size: int, pick: st.DataObject) -> None:
    levels = levels_of(data, leaf_size)
    root = levels[-1][0]
    assert root == merkle.compute_root(data, leaf_size)
    leaves = merkle.count_leaves(len(data), leaf_size)
    index = pick.draw(st.integers(0, leaves - 1))
    leaf = data[index * leaf_size : (index + 1) * leaf_size]
    path = merkle.prove(levels, index)
    assert merkle.verify(root, leaf, index, leaves, path)
    # a changed byte, another index, a cut or padded path: all refused
    if leaf:
        flipped = bytes([leaf[0] ^ 1]) + leaf[1:]
        assert not merkle.verify(root, flipped, index, leaves, path)
    assert not merkle.verify(root, leaf, leaves, leaves, path)
    if path:
        assert not merkle.verify(root, leaf, index, leaves, path[:-1])
    assert not merkle.verify(root, leaf, index, leaves, [*path, b"\x00" * 32])


def test_a_node_cannot_pass_as_a_leaf() -> None:
    data = bytes(range(256)) * 4
    levels = levels_of(data, 256)
    node = levels[1][0]
    # the 64 bytes of two child hashes, offered as a leaf at level 1's index, do not verify
    assert not merkle.verify(levels[-1][0], levels[0][0] + levels[0][1], 0, 2, merkle.prove(levels[1:], 0))
    assert node == merkle.hash_node(levels[0][0], levels[0][1])


def test_leaf_counts() -> None:
    assert merkle.count_leaves(0) == 1
    assert merkle.count_leaves(4_096) == 1
    assert merkle.count_leaves(4_097) == 2
