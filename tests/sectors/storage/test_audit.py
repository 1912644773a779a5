"""Which pieces an audit asks for: size-weighted reservoir, stripe lottery, deterministic from the id."""

from __future__ import annotations

from collections import Counter
from fractions import Fraction

from opendepin.sectors.base import ChallengeSeed
from opendepin.sectors.storage import audit
from opendepin.sectors.storage.audit import Piece


def piece(i: int, size: int, segment: str | None = None) -> Piece:
    seg = segment or f"{i:064x}"
    return Piece(f"{seg}:0", seg, 0, "dev", size, "00" * 32, 4, 10, 0)


def test_the_audit_is_derived_from_entropy_and_period() -> None:
    (a,) = audit.derive_audits(ChallengeSeed("e1", 3_600), {})
    (b,) = audit.derive_audits(ChallengeSeed("e1", 3_600), {})
    (c,) = audit.derive_audits(ChallengeSeed("e2", 3_600), {})
    assert a.challenge_id == b.challenge_id != c.challenge_id
    assert a.kind == audit.AUDIT and a.issued_at == 3_600


def test_reservoir_takes_the_slots_and_is_reproducible() -> None:
    pieces = [piece(i, 4_096) for i in range(50)]
    first = audit.reservoir("id", "dev", pieces, 3)
    assert len(first) == 3 and first == audit.reservoir("id", "dev", list(reversed(pieces)), 3)
    assert set(audit.reservoir("id", "dev", pieces[:2], 3)) == set(pieces[:2])
    assert audit.reservoir("id", "dev", [], 3) == []


def test_reservoir_is_weighted_by_size() -> None:
    """A piece 4× bigger is chosen about 4× as often as a small one when one slot is drawn (A-Res)."""
    pieces = [piece(0, 16_384), *(piece(i, 4_096) for i in range(1, 5))]
    wins = Counter(audit.reservoir(f"id{t}", "dev", pieces, 1)[0].key for t in range(4_000))
    big = wins[pieces[0].key] / 4_000
    assert 0.44 < big < 0.56  # expected 16/32 = 0.5


def test_a_subset_keeps_its_picks() -> None:
    """Pieces the network dropped do not change which of the rest rank first (a provider that answers
    slots + 1 covers what the network owes it)."""
    pieces = [piece(i, 2_048 * (1 + i % 4)) for i in range(40)]
    full = audit.reservoir("x", "dev", pieces, 4)
    sub = [p for p in pieces if p != full[0]]
    assert audit.reservoir("x", "dev", sub, 3) == full[1:4]


def test_stripe_lottery_rate_and_ranges() -> None:
    hits = sum(audit.stripe_audited(f"id{t}", "seg", Fraction(1, 20)) for t in range(4_000))
    assert 140 < hits < 260
    assert audit.stripe_audited("id", "seg", Fraction(1))
    for t in range(200):
        offset, length = audit.stripe_range(f"id{t}", "seg", 6_144, 256)
        assert offset % 256 == 0 and 0 < length <= 256 and offset + length <= 6_144
    assert audit.stripe_range("id", "seg", 100, 256) == (0, 100)


def test_due_for_adds_stripes_and_contained_pieces() -> None:
    pieces = [piece(i, 4_096) for i in range(30)]
    due = audit.due_for("id", "dev", pieces, 3, Fraction(0), 4_096, 256, extra=[pieces[29]])
    assert pieces[29].key in due and len(due) in (3, 4)
    assert all(d.stripe is None and d.leaf == 0 for d in due.values())
    every = audit.due_for("id", "dev", pieces, 3, Fraction(1), 1_024, 256)
    assert set(every) == {p.key for p in pieces}
    assert all(d.stripe is not None and 0 <= d.leaf < 4 for d in every.values())
