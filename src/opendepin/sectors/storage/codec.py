"""Erasure coding of one segment, k of n, with zfec (Reed-Solomon over GF(2⁸), Vandermonde-based).

Rule: a segment of L bytes is padded with zeros to k·⌈L/k⌉ (at least k bytes), cut into k blocks, and coded
into n pieces of ⌈L/k⌉ bytes (pieces 0..k−1 are the blocks themselves); any k pieces give the blocks back,
and the first L bytes are the segment. The pieces of one segment are the shares the audits decode
(`gf256.share_points`).
"""

from __future__ import annotations

from collections.abc import Mapping

import zfec


def piece_size(length: int, k: int) -> int:
    return max(1, -(-length // k))


def encode_segment(data: bytes, k: int, n: int) -> list[bytes]:
    """The n pieces of `data`."""
    size = piece_size(len(data), k)
    padded = data.ljust(size * k, b"\x00")
    blocks = [padded[i * size : (i + 1) * size] for i in range(k)]
    return [bytes(p) for p in zfec.Encoder(k, n).encode(blocks)]


def decode_segment(pieces: Mapping[int, bytes], k: int, n: int, length: int) -> bytes:
    """The segment from any k of its pieces (piece number → bytes)."""
    if len(pieces) < k:
        raise ValueError(f"need {k} pieces, have {len(pieces)}")
    numbers = sorted(pieces)[:k]
    blocks = zfec.Decoder(k, n).decode([pieces[i] for i in numbers], numbers)
    return b"".join(bytes(b) for b in blocks)[:length]
