"""Test-only helpers, independent of the production Merkle builder: an OpenZeppelin-layout tree and keys.

The tree follows OpenZeppelin's StandardMerkleTree: leaf = keccak(keccak(abi.encode(address, uint256))),
leaves sorted by hash and stored from the end of a 2n−1 array, node i = keccak(sorted(child pair)).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import encode
from eth_account import Account
from eth_utils import keccak


def leaf_hash(account: str, amount: int) -> bytes:
    return keccak(keccak(encode(["address", "uint256"], [account, amount])))


def _pair(a: bytes, b: bytes) -> bytes:
    return keccak(min(a, b) + max(a, b))


@dataclass
class Tree:
    nodes: list[bytes]
    index: dict[bytes, int]

    @property
    def root(self) -> bytes:
        return self.nodes[0]

    def proof(self, account: str, amount: int) -> list[bytes]:
        i = self.index[leaf_hash(account, amount)]
        proof = []
        while i > 0:
            proof.append(self.nodes[i - 1] if i % 2 == 0 else self.nodes[i + 1])
            i = (i - 1) // 2
        return proof


def build_tree(values: list[tuple[str, int]]) -> Tree:
    leaves = sorted(leaf_hash(a, v) for a, v in values)
    n = len(leaves)
    nodes = [b""] * (2 * n - 1)
    index = {}
    for i, leaf in enumerate(leaves):
        nodes[len(nodes) - 1 - i] = leaf
        index[leaf] = len(nodes) - 1 - i
    for i in range(n - 2, -1, -1):
        nodes[i] = _pair(nodes[2 * i + 1], nodes[2 * i + 2])
    return Tree(nodes, index)


def key_of(seed: int) -> str:
    """A deterministic test private key."""
    return "0x" + keccak(seed.to_bytes(32, "big")).hex()


def addr_of(key: str) -> str:
    return str(Account.from_key(key).address)
