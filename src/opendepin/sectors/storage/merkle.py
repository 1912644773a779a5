"""Merkle proofs of retrievability over a piece's 4 KiB leaves (SHA-256).

Rule: a piece is cut into leaves of `leaf_size` bytes (the last one may be shorter); leaf hash =
SHA-256(0x00 ‖ leaf), node hash = SHA-256(0x01 ‖ left ‖ right) (the prefixes keep a leaf from passing as a
node); a level with an odd number of nodes carries its last node up unchanged. The provider signs the root
when it stores the piece; an audit asks for one leaf and its path, and anyone recomputes the root.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence

LEAF_SIZE = 4_096


def hash_leaf(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def hash_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def count_leaves(size: int, leaf_size: int = LEAF_SIZE) -> int:
    """Leaves of a piece of `size` bytes (an empty piece has one empty leaf)."""
    return max(1, -(-size // leaf_size))


def iter_leaves(data: bytes, leaf_size: int = LEAF_SIZE) -> Iterator[bytes]:
    for index in range(count_leaves(len(data), leaf_size)):
        yield data[index * leaf_size : (index + 1) * leaf_size]


def build_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first, root last."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) > 1:
        level = levels[-1]
        up = [hash_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
    return levels


def compute_root(data: bytes, leaf_size: int = LEAF_SIZE) -> bytes:
    return build_levels([hash_leaf(leaf) for leaf in iter_leaves(data, leaf_size)])[-1][0]


def prove(levels: Sequence[Sequence[bytes]], index: int) -> list[bytes]:
    """The sibling hashes from leaf `index` up to the root (levels where the node is carried up add none)."""
    path = []
    for level in levels[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def verify(root: bytes, leaf: bytes, index: int, leaves: int, path: Sequence[bytes]) -> bool:
    """Does `leaf` at `index` of a tree of `leaves` leaves hash up to `root` through `path`?"""
    if not 0 <= index < leaves:
        return False
    node, width, steps = hash_leaf(leaf), leaves, iter(path)
    try:
        while width > 1:
            if index % 2 == 1:
                node = hash_node(next(steps), node)
            elif index + 1 < width:
                node = hash_node(node, next(steps))
            index, width = index // 2, (width + 1) // 2
    except StopIteration:
        return False
    return next(steps, None) is None and node == root
