"""Rewards Merkle tree built exactly as OpenZeppelin's StandardMerkleTree (README, "Formats").

Leaves are `(address owner, uint256 cumulative_amount)`:
  leaf = keccak256(keccak256(abi.encode(address, uint256)))
Leaves are sorted by hash; the tree is an array of 2n−1 nodes with the sorted leaves stored from the end
(`tree[len − 1 − i] = leaf_i`) and `tree[i] = keccak256(sorted(tree[2i+1], tree[2i+2]))`. A proof is the
list of siblings from the leaf up to the root; it verifies with OpenZeppelin's / snekmate's MerkleProof.

A large tree is hashed by the compiled batch kernels of `keccak_batch` (numba: no Python call per hash)
on both cores (`workers` threads; the kernels release the GIL): the leaves in row ranges, then, after the
sort, the subtrees under the SPLIT_DEPTH-th level side by side. A small one is hashed with pysha3 in the
calling thread (loading the kernels would cost more than they save). Every node is the same keccak of the
same bytes whichever way it was computed, so the trees are byte-identical (tests/rewards/test_merkle.py
compares them and OpenZeppelin's). The nodes live in one buffer of 32-byte entries (`node(i)`), not in
two million bytes objects.
"""

from __future__ import annotations

import binascii
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from itertools import repeat
from operator import itemgetter

import numpy as np
import sha3  # safe-pysha3: C keccak, ~4× faster than pycryptodome's (benchmarks/merkle.py)

_keccak = sha3.keccak_256
_ZERO12 = bytes(12)
HASH = 32

PARALLEL_MIN_LEAVES = 65_536
"""From this many leaves a tree is hashed by the compiled kernels, on both cores unless `workers` says
otherwise; below it, on one worker, with pysha3 (the kernels' first use in a process costs more)."""
LEAF_CHUNKS = 16
"""Leaf-hashing jobs the threads share (taken as they finish one, so a slower core takes fewer)."""
SPLIT_DEPTH = 4
"""The threads build the 2**SPLIT_DEPTH subtrees rooted at this level; the nodes above are built last."""


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
    except (ValueError, OverflowError, TypeError, AttributeError):
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


def _leaf_values(values: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    """`values` as a tuple of (address, int amount) pairs (copied only if an amount is not an int)."""
    items = values if type(values) is tuple else tuple(values)
    if all(type(amount) is int for _, amount in items):
        return items  # type: ignore[return-value]
    return tuple((address, int(amount)) for address, amount in items)


def _encode_rows(items: Sequence[tuple[str, int]], rows: np.ndarray) -> None:
    """abi.encode(address, uint256) of every leaf into the rows of `rows` (uint8 (len(items), 64), zero in
    its first 12 columns), in the order of `items`; raises MerkleError naming the first malformed leaf.

    The usual case (every address "0x" or "0X" and 40 hex digits) is decoded for all leaves at once;
    anything else is encoded leaf by leaf by `encode_leaf`, which accepts exactly what `bytes.fromhex` does
    (whitespace between digit pairs too) and names the culprit."""
    n = len(items)
    try:
        addresses = list(map(itemgetter(0), items))
        if set(map(len, addresses)) != {42}:
            raise ValueError
        chars = np.frombuffer("".join(addresses).encode("ascii"), dtype=np.uint8).reshape(n, 42)
        if not ((chars[:, 0] == ord("0")) & ((chars[:, 1] | 0x20) == ord("x"))).all():
            raise ValueError
        raw = binascii.unhexlify(np.ascontiguousarray(chars[:, 2:]).data)  # hex digits, either case
        rows[:, 12:32] = np.frombuffer(raw, dtype=np.uint8).reshape(n, 20)
        amounts = b"".join(map(int.to_bytes, map(itemgetter(1), items), repeat(32)))  # big-endian
        rows[:, 32:] = np.frombuffer(amounts, dtype=np.uint8).reshape(n, 32)
    except (ValueError, OverflowError, TypeError, AttributeError, IndexError):
        encoded = b"".join(encode_leaf(address, amount) for address, amount in items)
        rows[:] = np.frombuffer(encoded, dtype=np.uint8).reshape(n, 64)


def _check_unique(rows: np.ndarray) -> None:
    """Raise MerkleError if an address (bytes 12–31 of an encoded leaf) appears twice: hex is case-blind,
    so this is the same as comparing the addresses' lower-case texts. Sorted by their first 8 bytes; only
    equal prefixes (rare unless an address repeats) are compared in full."""
    if len(rows) < 2:
        return
    prefixes = np.sort(np.ascontiguousarray(rows[:, 12:20]).view(np.uint64).ravel())
    if bool((prefixes[1:] == prefixes[:-1]).any()):
        ordered = np.sort(np.ascontiguousarray(rows[:, 12:32]).view("S20").ravel())
        if bool((ordered[1:] == ordered[:-1]).any()):
            raise MerkleError("an address appears twice; cumulative rewards need one leaf per address")


def _tree_in_python(items: tuple[tuple[str, int], ...]) -> RewardsTree:
    """The tree hashed with pysha3 one node at a time in this thread (small trees: no kernel to load)."""
    n = len(items)
    rows = np.zeros((n, 64), dtype=np.uint8)
    _encode_rows(items, rows)
    _check_unique(rows)
    encoded = rows.tobytes()
    leaves = [_keccak(_keccak(encoded[i : i + 64]).digest()).digest() for i in range(0, 64 * n, 64)]
    nodes = [b""] * (n - 1) + sorted(leaves, reverse=True)  # tree[2n − 2 − i] = i-th smallest leaf
    for i in range(n - 2, -1, -1):
        nodes[i] = hash_pair(nodes[2 * i + 1], nodes[2 * i + 2])
    return RewardsTree(items, b"".join(nodes), b"".join(leaves))


def _tree_compiled(items: tuple[tuple[str, int], ...], workers: int) -> RewardsTree:
    """The tree hashed by the keccak_batch kernels. With `workers` > 1, threads of a pool run them (they
    release the GIL) while this thread encodes: it encodes the leaves in LEAF_CHUNKS chunks, handing each
    to the pool to hash as soon as it is encoded, and checks the addresses while the last ones hash; after
    the sort the pool builds the 2**SPLIT_DEPTH subtrees under that level, each thread taking the next job
    as it finishes one (the cores of a shared machine rarely run at the same speed); the few nodes above
    them last. With one worker the same steps run in order in this thread."""
    from opendepin.rewards import keccak_batch

    n = len(items)
    chunk = -(-n // LEAF_CHUNKS)
    depth = SPLIT_DEPTH
    while depth > 0 and (1 << (depth + 1)) - 2 > n - 2:  # every subtree root must be an internal node
        depth -= 1
    first_root = (1 << depth) - 1
    rows = np.zeros((n, 64), dtype=np.uint8)
    leaves = np.empty((n, HASH), dtype=np.uint8)
    nodes = np.empty((2 * n - 1, HASH), dtype=np.uint8)
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    try:
        hashing = []
        for lo in range(0, n, chunk):
            _encode_rows(items[lo : lo + chunk], rows[lo : lo + chunk])
            hashing.append(_start(pool, partial(keccak_batch.leaf_hashes, rows, leaves, lo, lo + chunk)))
        _check_unique(rows)
        _finish(hashing)
        nodes[n - 1 :] = _sorted_ascending(leaves)[::-1]  # tree[2n − 2 − i] = i-th smallest leaf
        _finish(
            [_start(pool, partial(keccak_batch.subtree, nodes, n, first_root + j)) for j in range(1 << depth)]
        )
    finally:
        if pool is not None:
            pool.shutdown()
    for level in range(depth - 1, -1, -1):  # the nodes above the subtrees
        keccak_batch.parents(nodes, (1 << level) - 1, (1 << (level + 1)) - 1)
    return RewardsTree(items, nodes.tobytes(), leaves.tobytes())


def _start(pool: ThreadPoolExecutor | None, job: Callable[[], None]) -> Future[None] | None:
    """`job` handed to the pool's threads (each takes the next as it finishes one), or run here now."""
    if pool is None:
        job()
        return None
    return pool.submit(job)


def _finish(started: list[Future[None] | None]) -> None:
    """Wait for the jobs `_start` handed to the pool (re-raising the first failure)."""
    for job in started:
        if job is not None:
            job.result()


def _sorted_ascending(leaves: np.ndarray) -> np.ndarray:
    """The rows of `leaves` in ascending byte order (fixed-width, memcmp)."""
    return np.sort(leaves.view("S32").ravel()).view(np.uint8).reshape(-1, HASH)


class RewardsTree:
    """An OpenZeppelin-compatible tree over `(address, cumulative amount)` values."""

    __slots__ = ("_entries", "_leaves", "_nodes", "_position", "values")

    def __init__(self, values: tuple[tuple[str, int], ...], nodes: bytes, leaves: bytes) -> None:
        self.values = values
        self._nodes = nodes  # node i at [32 i, 32 i + 32)
        self._leaves = leaves  # leaf hashes in the order of `values`, 32 bytes each
        self._position: dict[str, int] | None = None
        self._entries: dict[str, tuple[str, int]] | None = None

    @classmethod
    def build(cls, values: Iterable[tuple[str, int]], workers: int | None = None) -> RewardsTree:
        """The tree of `values`. `workers`: threads hashing side by side (None: both cores when the tree
        has at least PARALLEL_MIN_LEAVES leaves, else 1). A tree below PARALLEL_MIN_LEAVES on one worker
        is hashed with pysha3, any other by the compiled kernels. Same bytes either way."""
        items = _leaf_values(values)
        if not items:
            raise MerkleError("a rewards tree needs at least one leaf")
        n = len(items)
        if workers is None:
            workers = 2 if n >= PARALLEL_MIN_LEAVES and (os.cpu_count() or 1) > 1 else 1
        if workers <= 1 and n < PARALLEL_MIN_LEAVES:
            return _tree_in_python(items)
        return _tree_compiled(items, max(1, workers))

    @property
    def root(self) -> bytes:
        return self._nodes[:HASH]

    @property
    def root_hex(self) -> str:
        return "0x" + self._nodes[:HASH].hex()

    @property
    def tree(self) -> list[bytes]:
        """Every node in OpenZeppelin's array order (a fresh list; `node(i)` reads one without copying)."""
        nodes = self._nodes
        return [nodes[i : i + HASH] for i in range(0, len(nodes), HASH)]

    def node(self, index: int) -> bytes:
        return self._nodes[HASH * index : HASH * index + HASH]

    def leaf_index(self, address: str) -> int:
        """Index in the tree array of `address`'s leaf (the lookup table is built on first use)."""
        if self._position is None:
            n = len(self.values)
            size = 2 * n - 1
            nodes, leaves = self._nodes, self._leaves
            by_hash = {nodes[HASH * i : HASH * i + HASH]: i for i in range(n - 1, size)}
            self._position = {
                address.lower(): by_hash[leaves[HASH * k : HASH * k + HASH]]
                for k, (address, _) in enumerate(self.values)
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
            path.append(self.node(sibling))
            index = (index - 1) // 2
        return path
