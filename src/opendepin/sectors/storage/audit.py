"""Which bytes an audit asks for: a pure function of the period's chain entropy and the piece registry.

Rules (docs/storage.md, "Audits"):
- one audit challenge per period (`storage.audit`), its id = SHA-256 of the kind, the chain entropy and the
  period start; everything below is drawn from that id, so anyone re-derives it;
- reservoir: each provider answers for `audit_slots` of its pieces, chosen by weighted reservoir sampling
  A-Res (key = −ln(U)/size, smallest keys win): bigger pieces are more likely, and every provider is audited
  about equally often however much it stores;
- stripe lottery: a segment is stripe-audited when its draw is below `stripe_audit_rate`; then every holder
  sends the same byte range (one stripe), and the epoch decodes it with error location;
- within an audited piece, one leaf (uniform) and, for a stripe audit, one stripe (uniform) are asked;
- only pieces registered before the period starts are audited.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from opendepin import detmath
from opendepin.sectors.base import Challenge, ChallengeSeed, DeviceInfo
from opendepin.sectors.storage.merkle import count_leaves

AUDIT = "storage.audit"
_TWO64 = 2**64


def compute_audit_id(entropy: str, period_start: int) -> str:
    """The id of the period's audit challenge."""
    return hashlib.sha256(f"{AUDIT}|{entropy}|{period_start}".encode()).hexdigest()


def derive_audits(seed: ChallengeSeed, devices: Mapping[str, DeviceInfo]) -> list[Challenge]:
    """One challenge per period, addressed to every provider: the draws below come from its id."""
    audit_id = compute_audit_id(seed.entropy, seed.period_start)
    return [Challenge(AUDIT, audit_id, seed.period_start, seed, None, {})]


def draw(audit_id: str, *parts: object) -> int:
    """A 64-bit draw from the audit id and `parts`: the first 8 bytes (big-endian) of
    SHA-256(`audit_id|part|part|…`)."""
    text = "|".join([audit_id, *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def draws(audit_id: str, prefix: Sequence[object], lasts: Sequence[str]) -> list[int]:
    """`[draw(audit_id, *prefix, last) for last in lasts]`, hashing the common prefix once."""
    head = hashlib.sha256("|".join([audit_id, *map(str, prefix), ""]).encode())
    out = []
    for last in lasts:
        h = head.copy()
        h.update(last.encode())
        out.append(int.from_bytes(h.digest()[:8], "big"))
    return out


@dataclass(frozen=True, slots=True)
class Piece:
    """A registered piece as the audits see it."""

    key: str
    segment: str
    index: int
    device: str
    size: int
    root: str
    k: int
    n: int
    put_ts: int
    expires: int = 0
    """When the network drops the piece by itself (unix time; 0: never): its paid storage ran out."""


def reservoir(audit_id: str, device: str, pieces: Iterable[Piece], slots: int) -> list[Piece]:
    """A-Res: the `slots` pieces with the smallest −ln(U)/size, U uniform in (0, 1] from the draw; ties by
    key. `detmath.log` gives the same bits on every machine."""
    by_key = {p.key: p for p in pieces}
    if not by_key:
        return []
    order = ranking(audit_id, device, tuple(sorted((p.key, p.size) for p in by_key.values())))
    return [by_key[key] for key in order[:slots]]


@lru_cache(maxsize=32_768)
def ranking(audit_id: str, device: str, keyed: tuple[tuple[str, int], ...]) -> tuple[str, ...]:
    """Every piece key of `keyed` ((key, size) pairs) in A-Res order, remembered: a provider and the
    epoch that judges it rank the same pieces in the same period."""
    keys = [key for key, _ in keyed]
    u = (np.array(draws(audit_id, ("reservoir", device), keys), dtype=np.float64) + 1) / _TWO64
    weights = -detmath.log(u) / np.array([float(size) for _, size in keyed])
    return tuple(key for _, key in sorted(zip(weights.tolist(), keys, strict=True)))


def stripe_audited(audit_id: str, segment: str, rate: Fraction) -> bool:
    """Is `segment`'s stripe audited in this period?"""
    return draw(audit_id, "stripe", segment) < int(rate * _TWO64)


def striped_segments(audit_id: str, segments: Iterable[str], rate: Fraction) -> frozenset[str]:
    """The segments among `segments` whose stripe is audited in this period (`stripe_audited`)."""
    listed = sorted(set(segments))
    bound = int(rate * _TWO64)
    return frozenset(
        s for s, d in zip(listed, draws(audit_id, ("stripe",), listed), strict=True) if d < bound
    )


def leaf_index(audit_id: str, piece: Piece, leaf_size: int) -> int:
    return draw(audit_id, "leaf", piece.key) % count_leaves(piece.size, leaf_size)


def stripe_range(audit_id: str, segment: str, size: int, stripe_size: int) -> tuple[int, int]:
    """(offset, length) of the audited stripe in every piece of `segment` (pieces of a segment have equal
    sizes)."""
    stripes = max(1, size // stripe_size)
    offset = (draw(audit_id, "stripe-offset", segment) % stripes) * stripe_size
    return offset, min(stripe_size, size - offset)


@dataclass(frozen=True, slots=True)
class Due:
    """One piece a provider must answer for in a period, and what to send."""

    piece: Piece
    leaf: int
    stripe: tuple[int, int] | None


def due_for(
    audit_id: str,
    device: str,
    pieces: Sequence[Piece],
    slots: int,
    rate: Fraction,
    leaf_size: int,
    stripe_size: int,
    extra: Iterable[Piece] = (),
    striped_set: frozenset[str] | None = None,
) -> dict[str, Due]:
    """Piece key → what `device` must send in the period of `audit_id`: its reservoir picks, its pieces of
    stripe-audited segments, and `extra` (pieces under containment). `striped_set`: the period's
    stripe-audited segments when the caller has them (`striped_segments`), else drawn here."""
    chosen = {p.key: p for p in reservoir(audit_id, device, pieces, slots)}
    if striped_set is None:
        striped_set = striped_segments(audit_id, (p.segment for p in pieces), rate)
    striped = {p.key for p in pieces if p.segment in striped_set}
    for piece in pieces:
        if piece.key in striped:
            chosen[piece.key] = piece
    for piece in extra:
        chosen[piece.key] = piece
    return {
        key: Due(
            piece,
            leaf_index(audit_id, piece, leaf_size),
            stripe_range(audit_id, piece.segment, piece.size, stripe_size) if key in striped else None,
        )
        for key, piece in sorted(chosen.items())
    }
