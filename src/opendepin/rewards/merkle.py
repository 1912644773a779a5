"""Rewards Merkle tree built exactly as OpenZeppelin's StandardMerkleTree (README, "Formats").

Leaves are `(address owner, uint256 cumulative_amount)`:
  leaf = keccak256(keccak256(abi.encode(address, uint256)))
Leaves are sorted by hash; the tree is an array of 2n−1 nodes with the sorted leaves stored from the end
(`tree[len − 1 − i] = leaf_i`) and `tree[i] = keccak256(sorted(tree[2i+1], tree[2i+2]))`. A proof is the
list of siblings from the leaf up to the root; it verifies with OpenZeppelin's / snekmate's MerkleProof.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import sha3  # safe-pysha3: C keccak, ~4× faster than pycryptodome's (benchmarks/merkle.py)

_keccak = sha3.keccak_256
_ZERO12 = bytes(12)


class MerkleError(ValueError):
    """An empty tree, an unknown leaf or a malformed address/amount."""


def keccak256(data: bytes) -> bytes:
    return _keccak(data).digest()


def encode_leaf(address: str, amount: int) -> bytes:
    """abi.encode(address, uint256): two 32-byte words."""
    try:
        raw = bytes.fromhex(address[2:])
        if len(raw) != 20 or address[:2] not in ("0x", "0X"):
            raise ValueError
        return _ZERO12 + raw + amount.to_bytes(32, "big")
    except (ValueError, OverflowError, TypeError):
        raise MerkleError(
            f"leaf needs a 0x 20-byte address and a uint256, got ({address!r}, {amount!r})"
        ) from None


def hash_leaf(address: str, amount: int) -> bytes:
    """OpenZeppelin StandardMerkleTree leaf hash: double keccak of the ABI encoding."""
    return _keccak(_keccak(encode_leaf(address, amount)).digest()).digest()


def hash_pair(a: bytes, b: bytes) -> bytes:
    """Commutative node hash: keccak256 of the two children in ascending byte order."""
    return _keccak(a + b if a < b else b + a).digest()


def verify_proof(root: bytes, leaf: bytes, proof: Sequence[bytes]) -> bool:
    """Recompute the root from `leaf` and its sibling path (OpenZeppelin MerkleProof.verify)."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


class RewardsTree:
    """An OpenZeppelin-compatible tree over `(address, cumulative amount)` values."""

    __slots__ = ("_entries", "_leaves", "_position", "tree", "values")

    def __init__(self, values: tuple[tuple[str, int], ...], tree: list[bytes], leaves: list[bytes]) -> None:
        self.values = values
        self.tree = tree
        self._leaves = leaves  # leaf hashes in the order of `values`
        self._position: dict[str, int] | None = None
        self._entries: dict[str, tuple[str, int]] | None = None

    @classmethod
    def build(cls, values: Iterable[tuple[str, int]]) -> RewardsTree:
        items = tuple((address, int(amount)) for address, amount in values)
        if not items:
            raise MerkleError("a rewards tree needs at least one leaf")
        keccak = _keccak
        in_order = [
            keccak(keccak(encode_leaf(address, amount)).digest()).digest() for address, amount in items
        ]
        n = len(in_order)
        size = 2 * n - 1
        # Sorted leaves fill the tail of the array in reverse order: tree[size-1-rank] = leaves[rank].
        nodes: list[bytes] = [b""] * (size - n) + sorted(in_order, reverse=True)
        for i in range(size - 1 - n, -1, -1):
            a = nodes[2 * i + 1]
            b = nodes[2 * i + 2]
            nodes[i] = keccak(a + b if a < b else b + a).digest()
        tree = cls(items, nodes, in_order)
        if len({address.lower() for address, _ in items}) != n:
            raise MerkleError("an address appears twice; cumulative rewards need one leaf per address")
        return tree

    @property
    def root(self) -> bytes:
        return self.tree[0]

    @property
    def root_hex(self) -> str:
        return "0x" + self.tree[0].hex()

    def leaf_index(self, address: str) -> int:
        """Index in `tree` of `address`'s leaf (the lookup table is built on first use)."""
        if self._position is None:
            size = len(self.tree)
            by_hash = {self.tree[i]: i for i in range(size - len(self.values), size)}
            self._position = {
                address.lower(): by_hash[leaf]
                for (address, _), leaf in zip(self.values, self._leaves, strict=True)
            }
        try:
            return self._position[address.lower()]
        except KeyError:
            raise MerkleError(f"address {address} has no leaf in this tree") from None

    def entry(self, address: str) -> tuple[str, int]:
        """(the leaf's address as stored, its amount) for `address` in any case (table built on first use)."""
        if self._entries is None:
            self._entries = {stored.lower(): (stored, amount) for stored, amount in self.values}
        try:
            return self._entries[address.lower()]
        except KeyError:
            raise MerkleError(f"address {address} has no leaf in this tree") from None

    def amount_of(self, address: str) -> int:
        return self.entry(address)[1]

    def proof(self, address: str) -> list[bytes]:
        """Sibling hashes from `address`'s leaf up to (not including) the root."""
        index = self.leaf_index(address)
        path: list[bytes] = []
        while index > 0:
            sibling = index + 1 if index % 2 == 1 else index - 1
            path.append(self.tree[sibling])
            index = (index - 1) // 2
        return path
