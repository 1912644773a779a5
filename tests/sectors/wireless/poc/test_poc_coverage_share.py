"""Radios standing together whose evidence cannot say which assertion is true share one hotspot's coverage
(`compute_coverage_shares`), and a member is held to the shortest chain of receptions from the best member
(`compute_chain_apart_m`), not to its group's loosest pair. Small inputs with known answers, and properties
over random groups."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.colocation import compute_coverage_shares
from opendepin.sectors.wireless.poc.evaluate import build_contributions
from opendepin.sectors.wireless.poc.graph import compute_components
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rewards_hip15 import compute_hip15_total
from opendepin.sectors.wireless.poc.trust import PPM, compute_chain_apart_m, compute_group_apart_m

PARAMS = PocParams()


def _sizes(labels: np.ndarray) -> np.ndarray:
    return np.bincount(labels, minlength=len(labels))[labels].astype(np.int64)


def test_a_spoofer_heard_loud_by_one_tenant_is_held_to_its_own_reception() -> None:
    """Tenants 0, 1, 2 of a building joined by loose receptions (up to 800 m apart each), a spoofer 3 heard
    as loud as at 30 m by tenant 0 (bound 120 m): the group's loosest-pair bound allows the spoofer
    3 × 800 m from anyone; the chain from tenant 0 allows it 120 m."""
    left, right = np.array([0, 1, 0, 3]), np.array([1, 2, 2, 0])
    bound = np.array([800.0, 700.0, 500.0, 120.0])
    labels = compute_components(5, left, right)
    loose = compute_group_apart_m(5, left, right, bound, labels, _sizes(labels))
    assert loose[:4].tolist() == [2_400.0] * 4
    best = np.where(_sizes(labels) >= 2, 0, -1)
    chain = compute_chain_apart_m(5, left, right, bound, best)
    assert chain.tolist()[:4] == [0.0, 800.0, 500.0, 120.0]
    assert math.isinf(chain[4])  # alone


@st.composite
def _graphs(draw: st.DrawFn) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    size = draw(st.integers(2, 12))
    edges = draw(
        st.lists(
            st.tuples(st.integers(0, size - 1), st.integers(0, size - 1), st.floats(10.0, 2_000.0)),
            min_size=1,
            max_size=30,
        ).filter(lambda e: any(a != b for a, b, _ in e))
    )
    edges = [(a, b, w) for a, b, w in edges if a != b]
    return (
        size,
        np.array([a for a, _, _ in edges], dtype=np.int64),
        np.array([b for _, b, _ in edges], dtype=np.int64),
        np.array([w for _, _, w in edges]),
    )


@settings(max_examples=80, deadline=None)
@given(_graphs(), st.randoms(use_true_random=False))
def test_the_chain_bound_is_a_shortest_chain_never_looser_than_the_group_bound(
    graph: tuple[int, np.ndarray, np.ndarray, np.ndarray], rnd: object
) -> None:
    """From each group's reference member: 0 at the reference, every reception's bound respected
    (chain[b] ≤ chain[a] + bound), attained along some reception, never above the loosest-pair bound,
    and the same whatever the order the receptions come in."""
    size, left, right, bound = graph
    labels = compute_components(size, left, right)
    sizes = _sizes(labels)
    grouped = sizes >= 2
    reference = np.full(size, size)
    np.minimum.at(reference, labels, np.arange(size))
    best = np.where(grouped, reference[labels], -1)
    chain = compute_chain_apart_m(size, left, right, bound, best)
    loose = compute_group_apart_m(size, left, right, bound, labels, sizes)
    assert np.isinf(chain[~grouped]).all()
    assert (chain[np.unique(best[grouped])] == 0.0).all()
    for a, b, w in zip(left.tolist(), right.tolist(), bound.tolist(), strict=True):
        assert chain[b] <= chain[a] + w and chain[a] <= chain[b] + w
    for node in np.flatnonzero(grouped & (chain > 0)).tolist():
        touching = [
            (a if b == node else b, w) for a, b, w in zip(left, right, bound, strict=True) if node in (a, b)
        ]
        assert any(chain[other] + w == chain[node] for other, w in touching)
    assert (chain[grouped] <= loose[grouped] * (1 + 1e-12)).all()
    order = list(range(len(left)))
    rnd.shuffle(order)  # type: ignore[attr-defined]
    flipped = compute_chain_apart_m(size, right[order], left[order], bound[order], best)
    assert flipped.tolist() == chain.tolist()


def test_a_tied_pair_shares_one_hotspots_coverage() -> None:
    """A spoofer (1) standing by an honest radio (0), the outsiders' evidence judging neither: each is paid
    half. Another group (2, 3) consistent with each other: paid in full; 4 alone."""
    labels = np.array([0, 0, 2, 2, 4])
    best = np.array([0, 0, 2, 2, -1])
    contending = np.array([False, True, False, False, False])
    assert compute_coverage_shares(labels, best, contending).tolist() == [2, 2, 1, 1, 1]


def test_tenants_consistent_with_the_best_member_keep_their_pay() -> None:
    """A building (0, 1, 2) and a spoofer (3) heard loud by it: only the best tenant and the spoofer share;
    a spoofer judged to nothing (not contending) leaves everyone paid in full."""
    labels = np.zeros(4, dtype=np.int64)
    best = np.zeros(4, dtype=np.int64)
    assert compute_coverage_shares(labels, best, np.array([False, False, False, True])).tolist() == [
        2,
        1,
        1,
        2,
    ]
    assert compute_coverage_shares(labels, best, np.zeros(4, dtype=bool)).tolist() == [1, 1, 1, 1]


def test_a_contender_cleared_by_its_own_beacons_keeps_its_pay() -> None:
    labels, best = np.zeros(3, dtype=np.int64), np.zeros(3, dtype=np.int64)
    contending = np.array([False, True, True])
    cleared = np.array([False, True, False])
    assert compute_coverage_shares(labels, best, contending, cleared).tolist() == [3, 1, 3]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=1, max_size=20), st.permutations(range(20))
)
def test_contenders_share_exactly_one_coverage_whatever_the_indices(
    members: list[tuple[int, bool]], perm: list[int]
) -> None:
    """Per contested group the contenders' shares sum to exactly one hotspot (Σ 1/k = 1); renumbering the
    devices (ids never decide) permutes the shares with them."""
    size = len(members)
    group = np.array([g for g, _ in members], dtype=np.int64)
    first = {g: min(i for i in range(size) if group[i] == g) for g in set(group.tolist())}
    labels = np.array([first[g] for g in group.tolist()], dtype=np.int64)
    grouped = _sizes(labels) >= 2
    best = np.where(grouped, labels, -1)  # the first member of each group is the best one
    contending = np.array([c for _, c in members]) & grouped & (np.arange(size) != best)
    shares = compute_coverage_shares(labels, best, contending)
    for label in set(labels[grouped].tolist()):
        inside = labels == label
        if (contending & inside).any():
            assert sum(Fraction(1, int(k)) for k in shares[inside & (shares > 1)]) == 1
        else:
            assert (shares[inside] == 1).all()
    order = np.array([p for p in perm if p < size])
    where = np.argsort(order)  # new index of old device i: where[i]
    moved = compute_coverage_shares(
        where[labels[order]],
        np.where(best[order] >= 0, where[np.maximum(best[order], 0)], -1),
        contending[order],
    )
    assert moved.tolist() == shares[order].tolist()


def test_a_shared_device_is_paid_its_share_of_the_hex_exactly() -> None:
    counts = {"beacons": {"s": Counter({6: 3}), "t": Counter({6: 3})}, "witnesses": {"s": Counter({5: 2})}}
    scales = {"s": Fraction(2, 3), "t": Fraction(2, 3)}
    contributions, _ = build_contributions(counts, scales, {"s": 750_000, "t": PPM}, PARAMS, None, {"s": 2})
    got = {(c.device_id, c.category): c for c in contributions}
    beacon = compute_hip15_total(Counter({6: 3}), PARAMS, True)
    witness = compute_hip15_total(Counter({5: 2}), PARAMS, False)
    assert got[("s", "beacons")].units == math.floor(beacon * Fraction(2, 3) / 2 * Fraction(3, 4) * 10**9)
    assert got[("s", "witnesses")].units == math.floor(witness * Fraction(2, 3) / 2 * Fraction(3, 4) * 10**9)
    assert got[("t", "beacons")].units == math.floor(beacon * Fraction(2, 3) * 10**9)
    assert got[("s", "beacons")].breakdown["coverage_share"] == "1/2"
    assert got[("s", "beacons")].breakdown["hex_scale"] == "2/3"
    assert "coverage_share" in str(got[("s", "beacons")].breakdown["rule"])
    assert "coverage_share" not in got[("t", "beacons")].breakdown
