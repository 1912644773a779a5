"""The Merkle tree a provider commits its results to, and bisection between two trees.

Rules: unit i's hash is SHA-256 of its output; a leaf is SHA-256(0x00 ‖ unit hash), an inner node
SHA-256(0x01 ‖ left ‖ right) (domain separation: a leaf can never pass for a node); a level with an odd
count carries its last node up unchanged. The root of n units commits to every output and its position.

Bisection (Truebit's verification game, Gensyn Verde's refereed delegation) plays over two trees with the
same number of units: from the roots down, take the left child when the two left children differ, else the
right one, until one leaf: the first unit whose outputs differ. The referee (the engine) then recomputes
that one unit only. Both trees are fully revealed by the results, so the game needs no extra rounds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass


def unit_hash(output: bytes) -> bytes:
    return hashlib.sha256(output).digest()


def _leaf(digest: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + digest).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def tree_levels(hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree over unit hashes, leaves first, root last."""
    if not hashes:
        raise ValueError("a tree needs at least one unit")
    level = [_leaf(h) for h in hashes]
    levels = [level]
    while len(level) > 1:
        up = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            up.append(level[-1])
        level = up
        levels.append(level)
    return levels


def merkle_root(hashes: Sequence[bytes]) -> bytes:
    return tree_levels(hashes)[-1][0]


def outputs_root(outputs: Sequence[bytes]) -> bytes:
    """The root a result must carry for these unit outputs."""
    return merkle_root([unit_hash(o) for o in outputs])


@dataclass(frozen=True, slots=True)
class Bisection:
    """Where two trees first differ: the unit index and the (level, position) pairs walked."""

    unit: int
    steps: tuple[tuple[int, int], ...]


def bisect(a: Sequence[bytes], b: Sequence[bytes]) -> Bisection | None:
    """The first unit where unit hashes `a` and `b` differ, found by descending both trees from the root
    (None when the roots are equal). Raises ValueError if the trees have different sizes."""
    if len(a) != len(b):
        raise ValueError("bisection needs two trees over the same units")
    left, right = tree_levels(a), tree_levels(b)
    if left[-1][0] == right[-1][0]:
        return None
    position, steps = 0, []
    for depth in range(len(left) - 1, 0, -1):
        steps.append((depth, position))
        below_a, below_b = left[depth - 1], right[depth - 1]
        child = 2 * position
        # the left child when it differs, or when it is an odd node carried up unchanged
        differs_left = child + 1 >= len(below_a) or below_a[child] != below_b[child]
        position = child if differs_left else child + 1
    steps.append((0, position))
    return Bisection(position, tuple(steps))
