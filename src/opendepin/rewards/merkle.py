"""Rewards Merkle tree built exactly as OpenZeppelin's StandardMerkleTree (README, "Formats").

Leaves are `(address owner, uint256 cumulative_amount)`:
  leaf = keccak256(keccak256(abi.encode(address, uint256)))
Leaves are sorted by hash; the tree is an array of 2n−1 nodes with the sorted leaves stored from the end
(`tree[len − 1 − i] = leaf_i`) and `tree[i] = keccak256(sorted(tree[2i+1], tree[2i+2]))`. A proof is the
list of siblings from the leaf up to the root; it verifies with OpenZeppelin's / snekmate's MerkleProof.

Building a large tree uses both cores (`workers`): the leaves are hashed in two halves, sorted, then the
two subtrees under the root are hashed side by side (nodes 1 and 2 and everything below them). Every
node is the same keccak of the same bytes whichever process computed it, so the tree is byte-identical
to the one-process build (tests/rewards/test_merkle.py compares them and OpenZeppelin's).

Two facts make the build cheap. A node whose children are both leaves hashes two *adjacent* entries of
the ascending sorted leaves, already in ascending order: its input is one 64-byte slice, with no
comparison and no concatenation. And the nodes live in one buffer of 32-byte entries (`node(i)`), not in
two million bytes objects.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterable, Sequence

import sha3  # safe-pysha3: C keccak, ~4× faster than pycryptodome's (benchmarks/merkle.py)

_keccak = sha3.keccak_256
_ZERO12 = bytes(12)
HASH = 32

PARALLEL_MIN_LEAVES = 65_536
"""Below this many leaves a tree is built in the calling process (forking would cost more than it saves)."""
LEAF_CHUNKS = 16
"""Leaf-hashing jobs the children share (taken as they finish one, so a slower core takes fewer)."""
SPLIT_DEPTH = 3
"""The children build the 2**SPLIT_DEPTH subtrees rooted at this level; the nodes above are this process's."""


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


def _hash_leaves(items: Sequence[tuple[str, int]]) -> tuple[list[bytes], bytes]:
    """Leaf hashes in the order of `items`, and the 20-byte addresses joined (for the duplicate check).
    Raises MerkleError naming the first malformed leaf."""
    keccak, fromhex, zero = _keccak, bytes.fromhex, _ZERO12
    try:
        raw = [fromhex(address[2:]) for address, _ in items]
        encoded = [zero + r + amount.to_bytes(32, "big") for r, (_, amount) in zip(raw, items, strict=True)]
        if any(len(r) != 20 for r in raw) or any(a[:2] not in ("0x", "0X") for a, _ in items):
            raise ValueError
    except (ValueError, OverflowError, TypeError, AttributeError):
        for address, amount in items:  # name the culprit
            encode_leaf(address, amount)
        raise MerkleError("malformed leaf") from None
    return [keccak(keccak(e).digest()).digest() for e in encoded], b"".join(raw)


def _subtree_levels(asc: bytes, n: int, root: int) -> list[tuple[int, list[bytes]]]:
    """The internal nodes under (and including) node `root`, level by level from the bottom, as
    (first index, hashes of the consecutive indices from there). `asc` holds the n sorted leaf hashes in
    ascending order; tree index t ≥ n−1 is the leaf of rank 2n−2−t."""
    size, last = 2 * n - 1, n - 2
    keccak = _keccak
    ranges: list[tuple[int, int]] = []
    depth = 0
    while (lo := (root + 1) * (1 << depth) - 1) <= last:
        ranges.append((lo, min((root + 2) * (1 << depth) - 2, last)))
        depth += 1
    first_leaf_parent = (n - 1) // 2  # from here on both children are leaves
    last_internal_parent = (n - 4) // 2  # up to here both children are internal nodes
    levels: list[tuple[int, list[bytes]]] = []
    below_lo, below = 0, []
    for lo, hi in reversed(ranges):
        out: list[bytes] = []
        top = min(hi, last_internal_parent)
        if lo <= top:  # both children computed one level down
            start = 2 * lo + 1 - below_lo
            stop = start + 2 * (top - lo + 1)
            out = [
                keccak(a + b if a < b else b + a).digest()
                for a, b in zip(below[start:stop:2], below[start + 1 : stop : 2], strict=True)
            ]
        for i in range(max(lo, top + 1), min(hi, first_leaf_parent - 1) + 1):  # one internal, one leaf
            left = below[2 * i + 1 - below_lo]
            rank = size - 1 - (2 * i + 2)
            right = asc[HASH * rank : HASH * rank + HASH]
            out.append(keccak(left + right if left < right else right + left).digest())
        first = max(lo, first_leaf_parent)
        if first <= hi:  # both children leaves: adjacent in ascending order, smaller first
            top_offset = HASH * (size - 3 - 2 * first)
            bottom_offset = HASH * (size - 3 - 2 * hi)
            out.extend(
                keccak(asc[o : o + 2 * HASH]).digest()
                for o in range(top_offset, bottom_offset - 1, -2 * HASH)
            )
        levels.append((lo, out))
        below_lo, below = lo, out
    return levels


def _check_unique(addresses: bytes, n: int) -> None:
    """Raise MerkleError if a 20-byte address appears twice (hex is case-blind, so this is the same as
    comparing the addresses' lower-case texts). Sorted by their first 8 bytes; only equal prefixes (rare
    unless an address repeats) are compared in full."""
    if n < 2:
        return
    import numpy as np

    rows = np.frombuffer(addresses, dtype=np.uint8).reshape(n, 20)
    prefixes = np.sort(np.ascontiguousarray(rows[:, :8]).view(">u8").ravel())
    if bool((prefixes[1:] == prefixes[:-1]).any()):
        ordered = np.sort(np.frombuffer(addresses, dtype="S20"))
        if bool((ordered[1:] == ordered[:-1]).any()):
            raise MerkleError("an address appears twice; cumulative rewards need one leaf per address")


def _sorted_ascending(leaves: bytes, n: int) -> bytes:
    import numpy as np

    return np.sort(np.frombuffer(leaves, dtype="S32")).tobytes()  # byte order (fixed-width, memcmp)


def _in_children(jobs: int, work: Callable[[int], None], workers: int = 2) -> None:
    """Run `work(job)` for jobs 0 … jobs−1 in `workers` forked children that take the next job as they
    finish one (the two cores of a shared machine rarely run at the same speed); wait for all and raise
    MerkleError with a child's message if one failed. Children write their results to shared memory the
    caller mapped before forking."""
    job_read, job_write = os.pipe()
    os.write(job_write, b"".join(job.to_bytes(4, "big") for job in range(jobs)))  # < PIPE_BUF: atomic reads
    os.close(job_write)
    children: list[tuple[int, int]] = []
    for _ in range(workers):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                os.close(read_end)
                while len(token := os.read(job_read, 4)) == 4:
                    work(int.from_bytes(token, "big"))
            except BaseException as error:
                os.write(write_end, str(error).encode()[:4000])
                code = 1
            finally:
                os._exit(code)
        os.close(write_end)
        children.append((pid, read_end))
    os.close(job_read)
    failure = ""
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read().decode(errors="replace")
        _, status = os.waitpid(pid, 0)
        if (status != 0 or message) and not failure:
            failure = message or f"tree builder process ended with status {status}"
    if failure:
        raise MerkleError(failure)


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
        """The tree of `values`. `workers`: processes hashing side by side (None: both cores when the tree
        has at least PARALLEL_MIN_LEAVES leaves and the platform can fork, else 1). Same bytes either way."""
        items = _leaf_values(values)
        if not items:
            raise MerkleError("a rewards tree needs at least one leaf")
        n = len(items)
        if workers is None:
            workers = 2 if n >= PARALLEL_MIN_LEAVES and (os.cpu_count() or 1) > 1 else 1
        if workers > 1 and n >= 4 and hasattr(os, "fork"):
            return cls._build_forked(items, workers)
        leaves, addresses = _hash_leaves(items)
        joined = b"".join(leaves)
        _check_unique(addresses, n)
        asc = b"".join(sorted(leaves)) if n < PARALLEL_MIN_LEAVES else _sorted_ascending(joined, n)
        nodes = bytearray(HASH * (2 * n - 1))
        nodes[HASH * (n - 1) :] = _descending(asc)
        for lo, hashes in _subtree_levels(asc, n, 0):
            nodes[HASH * lo : HASH * (lo + len(hashes))] = b"".join(hashes)
        return cls(items, bytes(nodes), joined)

    @classmethod
    def _build_forked(cls, items: tuple[tuple[str, int], ...], workers: int) -> RewardsTree:
        """Forked children hash the leaves in chunks; after the sort they build the subtrees under the
        SPLIT_DEPTH-th level, and this process the few nodes above them."""
        n = len(items)
        size = 2 * n - 1
        chunk = -(-n // LEAF_CHUNKS)
        leaf_memory = mmap.mmap(-1, HASH * n)
        address_memory = mmap.mmap(-1, 20 * n)

        def hash_chunk(job: int) -> None:
            lo, hi = job * chunk, min(n, (job + 1) * chunk)
            hashes, addresses = _hash_leaves(items[lo:hi])
            leaf_memory[HASH * lo : HASH * hi] = b"".join(hashes)
            address_memory[20 * lo : 20 * hi] = addresses

        _in_children(-(-n // chunk), hash_chunk, workers)
        leaves = leaf_memory[:]
        _check_unique(address_memory[:], n)
        asc = _sorted_ascending(leaves, n)
        node_memory = mmap.mmap(-1, HASH * size)
        depth = SPLIT_DEPTH
        while depth > 0 and (1 << (depth + 1)) - 2 > n - 2:  # every subtree root must be an internal node
            depth -= 1
        first_root = (1 << depth) - 1

        def build_subtree(job: int) -> None:
            for lo, hashes in _subtree_levels(asc, n, first_root + job):
                node_memory[HASH * lo : HASH * (lo + len(hashes))] = b"".join(hashes)

        _in_children(1 << depth, build_subtree, workers)
        node_memory[HASH * (n - 1) :] = _descending(asc)
        for i in range(first_root - 1, -1, -1):
            left = node_memory[HASH * (2 * i + 1) : HASH * (2 * i + 2)]
            right = node_memory[HASH * (2 * i + 2) : HASH * (2 * i + 3)]
            node_memory[HASH * i : HASH * i + HASH] = hash_pair(left, right)
        nodes = node_memory[:]
        for memory in (leaf_memory, address_memory, node_memory):
            memory.close()
        return cls(items, nodes, leaves)

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


def _descending(asc: bytes) -> bytes:
    """The 32-byte entries of `asc` in reverse order (the leaves' place at the end of the tree array)."""
    import numpy as np

    return np.frombuffer(asc, dtype="S32")[::-1].tobytes()
