"""Batch keccak-256 (numba): Keccak-f[1600] and the keccak-256 sponge over many fixed-size inputs per call.

Implements Keccak-f[1600] (FIPS 202, §3: 24 rounds of θ, ρ, π, χ, ι on 25 64-bit lanes, lane (x, y) at
index x + 5y, a lane's bytes little-endian) and keccak-256 as Ethereum uses it: the sponge with a rate of
136 bytes (17 lanes) and a 32-byte output, padded with the original Keccak padding pad10*1 and domain
byte 0x01 (the byte after the message ^= 0x01, the last byte of the block ^= 0x80), not SHA3-256's 0x06.
tests/rewards/test_keccak_batch.py checks every kernel against pysha3's `sha3.keccak_256` (safe-pysha3).

A kernel hashes the rows of a uint8 array (one input per row, all of one length) in a single call, with
no Python call per hash, BATCH inputs at a time: the permutation runs on BATCH states side by side (lane k
of state b at S[k·BATCH + b]), a loop over b that LLVM turns into vector instructions (AVX-512 or AVX2).
Kernels release the GIL (`nogil=True`), so threads may run them on disjoint row ranges; they are compiled
on first use and cached on disk (`cache=True`).

- `keccak256_rows`: keccak256(row) of each row (any length);
- `leaf_hashes`: keccak256(keccak256(row)), OpenZeppelin StandardMerkleTree's leaf hash of abi.encode'd
  values;
- `parents`, `subtree`: the commutative node hash keccak256(min(a, b) ‖ max(a, b)) (bytewise order) of
  OpenZeppelin's tree array, node i from its children 2i + 1 and 2i + 2: a range of nodes, or a subtree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

RATE = 136
"""keccak-256's rate in bytes (1600 − 2 × 256 bits): the block the sponge absorbs per permutation."""
BATCH = 8
"""States permuted side by side (one 512-bit vector of 64-bit lanes)."""

_RC = np.array(
    [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
        0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
        0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
        0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ],
    dtype=np.uint64,
)  # fmt: skip
"""ι's round constants (FIPS 202, Algorithm 5 `rc`, as 64-bit lanes)."""

_PAD_FIRST = np.uint64(0x01)
"""Keccak's padding byte after the message (SHA3 would use 0x06)."""
_PAD_LAST = np.uint64(0x80) << np.uint64(56)
"""The final padding bit: the high bit of the rate's last byte (byte 7 of lane 16)."""


@njit(cache=True, inline="always")
def _rol(x: np.uint64, k: int) -> np.uint64:
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, nogil=True)
def _permute(S: np.ndarray) -> None:
    """Keccak-f[1600] on the BATCH states of `S` (uint64 (25·BATCH,), lane k of state b at k·BATCH + b)
    in place: per round θ (c, d), ρ and π (into b0 … b24), χ (back into a0 … a24) and ι."""
    w = BATCH
    for r in range(24):
        rc = _RC[r]
        for b in range(w):
            a0 = S[b]
            a1 = S[1 * w + b]
            a2 = S[2 * w + b]
            a3 = S[3 * w + b]
            a4 = S[4 * w + b]
            a5 = S[5 * w + b]
            a6 = S[6 * w + b]
            a7 = S[7 * w + b]
            a8 = S[8 * w + b]
            a9 = S[9 * w + b]
            a10 = S[10 * w + b]
            a11 = S[11 * w + b]
            a12 = S[12 * w + b]
            a13 = S[13 * w + b]
            a14 = S[14 * w + b]
            a15 = S[15 * w + b]
            a16 = S[16 * w + b]
            a17 = S[17 * w + b]
            a18 = S[18 * w + b]
            a19 = S[19 * w + b]
            a20 = S[20 * w + b]
            a21 = S[21 * w + b]
            a22 = S[22 * w + b]
            a23 = S[23 * w + b]
            a24 = S[24 * w + b]
            c0 = a0 ^ a5 ^ a10 ^ a15 ^ a20
            c1 = a1 ^ a6 ^ a11 ^ a16 ^ a21
            c2 = a2 ^ a7 ^ a12 ^ a17 ^ a22
            c3 = a3 ^ a8 ^ a13 ^ a18 ^ a23
            c4 = a4 ^ a9 ^ a14 ^ a19 ^ a24
            d0 = c4 ^ _rol(c1, 1)
            d1 = c0 ^ _rol(c2, 1)
            d2 = c1 ^ _rol(c3, 1)
            d3 = c2 ^ _rol(c4, 1)
            d4 = c3 ^ _rol(c0, 1)
            b0 = a0 ^ d0
            b1 = _rol(a6 ^ d1, 44)
            b2 = _rol(a12 ^ d2, 43)
            b3 = _rol(a18 ^ d3, 21)
            b4 = _rol(a24 ^ d4, 14)
            b5 = _rol(a3 ^ d3, 28)
            b6 = _rol(a9 ^ d4, 20)
            b7 = _rol(a10 ^ d0, 3)
            b8 = _rol(a16 ^ d1, 45)
            b9 = _rol(a22 ^ d2, 61)
            b10 = _rol(a1 ^ d1, 1)
            b11 = _rol(a7 ^ d2, 6)
            b12 = _rol(a13 ^ d3, 25)
            b13 = _rol(a19 ^ d4, 8)
            b14 = _rol(a20 ^ d0, 18)
            b15 = _rol(a4 ^ d4, 27)
            b16 = _rol(a5 ^ d0, 36)
            b17 = _rol(a11 ^ d1, 10)
            b18 = _rol(a17 ^ d2, 15)
            b19 = _rol(a23 ^ d3, 56)
            b20 = _rol(a2 ^ d2, 62)
            b21 = _rol(a8 ^ d3, 55)
            b22 = _rol(a14 ^ d4, 39)
            b23 = _rol(a15 ^ d0, 41)
            b24 = _rol(a21 ^ d1, 2)
            a0 = b0 ^ (~b1 & b2)
            a1 = b1 ^ (~b2 & b3)
            a2 = b2 ^ (~b3 & b4)
            a3 = b3 ^ (~b4 & b0)
            a4 = b4 ^ (~b0 & b1)
            a5 = b5 ^ (~b6 & b7)
            a6 = b6 ^ (~b7 & b8)
            a7 = b7 ^ (~b8 & b9)
            a8 = b8 ^ (~b9 & b5)
            a9 = b9 ^ (~b5 & b6)
            a10 = b10 ^ (~b11 & b12)
            a11 = b11 ^ (~b12 & b13)
            a12 = b12 ^ (~b13 & b14)
            a13 = b13 ^ (~b14 & b10)
            a14 = b14 ^ (~b10 & b11)
            a15 = b15 ^ (~b16 & b17)
            a16 = b16 ^ (~b17 & b18)
            a17 = b17 ^ (~b18 & b19)
            a18 = b18 ^ (~b19 & b15)
            a19 = b19 ^ (~b15 & b16)
            a20 = b20 ^ (~b21 & b22)
            a21 = b21 ^ (~b22 & b23)
            a22 = b22 ^ (~b23 & b24)
            a23 = b23 ^ (~b24 & b20)
            a24 = b24 ^ (~b20 & b21)
            S[b] = a0 ^ rc
            S[1 * w + b] = a1
            S[2 * w + b] = a2
            S[3 * w + b] = a3
            S[4 * w + b] = a4
            S[5 * w + b] = a5
            S[6 * w + b] = a6
            S[7 * w + b] = a7
            S[8 * w + b] = a8
            S[9 * w + b] = a9
            S[10 * w + b] = a10
            S[11 * w + b] = a11
            S[12 * w + b] = a12
            S[13 * w + b] = a13
            S[14 * w + b] = a14
            S[15 * w + b] = a15
            S[16 * w + b] = a16
            S[17 * w + b] = a17
            S[18 * w + b] = a18
            S[19 * w + b] = a19
            S[20 * w + b] = a20
            S[21 * w + b] = a21
            S[22 * w + b] = a22
            S[23 * w + b] = a23
            S[24 * w + b] = a24


@njit(cache=True, inline="always")
def _lane(data: np.ndarray, offset: int) -> np.uint64:
    """The 8 bytes of `data` from `offset` as a little-endian lane."""
    v = np.uint64(0)
    for k in range(8):
        v |= np.uint64(data[offset + k]) << np.uint64(8 * k)
    return v


@njit(cache=True, inline="always")
def _pad(S: np.ndarray, b: int, length: int) -> None:
    """Keccak padding of state b after `length` bytes of the last block: 0x01 after them, 0x80 at the end."""
    S[(length // 8) * BATCH + b] ^= _PAD_FIRST << np.uint64(8 * (length % 8))
    S[(RATE // 8 - 1) * BATCH + b] ^= _PAD_LAST


@njit(cache=True, inline="always")
def _absorb(rows: np.ndarray, start: int, count: int, S: np.ndarray) -> None:
    """keccak256 of rows start … start + count − 1 (count ≤ BATCH) into S from a zero state: block by
    block, padding included; on return lanes 0 … 3 of state b hold row start + b's digest."""
    S[:] = 0
    length = rows.shape[1]
    done = 0
    while True:
        block = min(RATE, length - done)
        for b in range(count):
            row = rows[start + b]
            for j in range(block // 8):
                S[j * BATCH + b] ^= _lane(row, done + 8 * j)
            for k in range(block - block % 8, block):  # the last lane's bytes
                S[(k // 8) * BATCH + b] ^= np.uint64(row[done + k]) << np.uint64(8 * (k % 8))
        if block < RATE:
            break
        _permute(S)
        done += RATE
    for b in range(count):
        _pad(S, b, block)
    _permute(S)


@njit(cache=True, inline="always")
def _store(S: np.ndarray, b: int, out: np.ndarray) -> None:
    """State b's digest (lanes 0 … 3, little-endian) into the 32 bytes of `out`."""
    for j in range(4):
        v = S[j * BATCH + b]
        for k in range(8):
            out[8 * j + k] = np.uint8((v >> np.uint64(8 * k)) & np.uint64(0xFF))


@njit(cache=True, nogil=True)
def keccak256_rows(rows: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    """out[i] = keccak256(rows[i]) for lo ≤ i < min(hi, len(rows)) (`rows`: uint8 (m, length), any
    length; `out`: uint8 (m, 32))."""
    S = np.zeros(25 * BATCH, dtype=np.uint64)
    hi = min(hi, rows.shape[0])
    for start in range(lo, hi, BATCH):
        count = min(BATCH, hi - start)
        _absorb(rows, start, count, S)
        for b in range(count):
            _store(S, b, out[start + b])


@njit(cache=True, nogil=True)
def leaf_hashes(rows: np.ndarray, out: np.ndarray, lo: int, hi: int) -> None:
    """out[i] = keccak256(keccak256(rows[i])) for lo ≤ i < min(hi, len(rows)): OpenZeppelin
    StandardMerkleTree's leaf hash when the rows are abi.encode'd values."""
    S = np.zeros(25 * BATCH, dtype=np.uint64)
    hi = min(hi, rows.shape[0])
    for start in range(lo, hi, BATCH):
        count = min(BATCH, hi - start)
        _absorb(rows, start, count, S)
        S[4 * BATCH :] = 0  # the 32-byte digests (lanes 0 … 3) are the second hash's whole message
        for b in range(BATCH):
            _pad(S, b, 32)
        _permute(S)
        for b in range(count):
            _store(S, b, out[start + b])


@njit(cache=True, nogil=True)
def parents(nodes: np.ndarray, lo: int, hi: int) -> None:
    """Nodes lo ≤ i < hi of OpenZeppelin's tree array `nodes` (uint8 (2n − 1, 32)) from their children
    2i + 1 and 2i + 2, which must be computed already (one level of the tree, or part of one):
    keccak256 of the two children concatenated, the smaller (bytewise) first."""
    S = np.zeros(25 * BATCH, dtype=np.uint64)
    for start in range(lo, hi, BATCH):
        count = min(BATCH, hi - start)
        S[:] = 0
        for b in range(count):
            i = start + b
            first = nodes[2 * i + 1]
            second = nodes[2 * i + 2]
            k = 0
            while k < 31 and first[k] == second[k]:
                k += 1
            if first[k] > second[k]:
                first, second = second, first
            for j in range(4):
                S[j * BATCH + b] = _lane(first, 8 * j)
                S[(4 + j) * BATCH + b] = _lane(second, 8 * j)
            _pad(S, b, 64)
        _permute(S)
        for b in range(count):
            _store(S, b, nodes[start + b])


@njit(cache=True, nogil=True)
def subtree(nodes: np.ndarray, n: int, root: int) -> None:
    """Every internal node of the subtree under node `root` (itself included) of OpenZeppelin's tree array
    over n leaves (`nodes`: uint8 (2n − 1, 32), the leaves already at n − 1 … 2n − 2), level by level from
    the bottom: at depth d below `root` the nodes (root + 1)·2^d − 1 … (root + 2)·2^d − 2, up to the last
    internal node n − 2."""
    last = n - 2
    depth = 0
    while (root + 1) * (1 << (depth + 1)) - 1 <= last:
        depth += 1
    while depth >= 0:
        lo = (root + 1) * (1 << depth) - 1
        parents(nodes, lo, min((root + 2) * (1 << depth) - 2, last) + 1)
        depth -= 1
