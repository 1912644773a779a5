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

from opendepin.sectors.wireless.poc.colocation import GroupAssertions, compute_coverage_shares
from opendepin.sectors.wireless.poc.evaluate import build_contributions
from opendepin.sectors.wireless.poc.graph import compute_components
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rewards_hip15 import compute_hip15_total
from opendepin.sectors.wireless.poc.trust import (
    PPM,
    compute_chain_apart_m,
    compute_group_apart_m,
    find_contenders,
)

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
    contender = np.array([True, True, False, False, False])
    assert compute_coverage_shares(labels, contender).tolist() == [2, 2, 1, 1, 1]


def test_a_contender_cleared_by_its_own_beacons_keeps_its_pay() -> None:
    labels = np.zeros(3, dtype=np.int64)
    contender = np.array([True, True, True])
    cleared = np.array([False, True, False])
    assert compute_coverage_shares(labels, contender, cleared).tolist() == [3, 1, 3]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.booleans()), min_size=1, max_size=20),
    st.permutations(range(20)),
)
def test_contenders_share_exactly_one_coverage_whatever_the_indices(
    members: list[tuple[int, bool]], perm: list[int]
) -> None:
    """Per contested group the contenders' shares sum to exactly one hotspot (Σ 1/k = 1); renumbering the
    devices (ids never decide) permutes the shares with them."""
    size = len(members)
    group = [g for g, _ in members]
    labels = np.array([group.index(g) for g in group], dtype=np.int64)  # a group's label: its first member
    contender = np.array([c for _, c in members])
    shares = compute_coverage_shares(labels, contender)
    for label in set(labels.tolist()):
        inside = labels == label
        if (contender & inside).sum() >= 2:
            assert sum(Fraction(1, int(k)) for k in shares[inside & contender]) == 1
            assert (shares[inside & ~contender] == 1).all()
        else:
            assert (shares[inside] == 1).all()
    order = np.array([p for p in perm if p < size])
    where = np.argsort(order)  # new index of old device i
    moved = [int(where[k]) for k in labels[order]]
    relabelled = np.array([min(i for i in range(size) if moved[i] == m) for m in moved], dtype=np.int64)
    assert compute_coverage_shares(relabelled, contender[order]).tolist() == shares[order].tolist()


def _compared(best: list[int], gain: list[float]) -> GroupAssertions:
    size = len(best)
    zeros = np.zeros(size)
    return GroupAssertions(
        np.array(gain), np.zeros(size, dtype=np.int64), zeros, zeros, np.array(best, dtype=np.int64)
    )


# a building of three tenants (0, 1, 2) standing within 40 m, and a spoofer (3) standing by tenant 0 and
# asserting 600 m north; every reception allows 150 m
BUILDING_XY = np.array([[0.0, 0.0], [30.0, 0.0], [0.0, 40.0], [0.0, 600.0]])
BUILDING_LEFT, BUILDING_RIGHT = np.array([0, 0, 1, 3]), np.array([1, 2, 2, 0])
BUILDING_BOUND = np.full(4, 150.0)


def test_the_best_tenant_and_the_spoofer_contend_the_other_tenants_do_not() -> None:
    labels = np.zeros(4, dtype=np.int64)
    compared = _compared([0] * 4, [0.0, 0.3, 0.2, 2.0])  # the outsiders favour tenant 0, a little
    alive = np.ones(4, dtype=bool)
    contender = find_contenders(
        BUILDING_XY, BUILDING_LEFT, BUILDING_RIGHT, BUILDING_BOUND, labels, compared, alive
    )
    assert contender.tolist() == [True, False, False, True]
    assert compute_coverage_shares(labels, contender).tolist() == [2, 1, 1, 2]
    dead = np.array([True, True, True, False])  # the spoofer judged to nothing: nobody shares
    assert not find_contenders(
        BUILDING_XY, BUILDING_LEFT, BUILDING_RIGHT, BUILDING_BOUND, labels, compared, dead
    ).any()


@settings(max_examples=30, deadline=None)
@given(st.permutations(range(4)))
def test_with_no_evidence_at_all_the_ids_decide_nothing(perm: list[int]) -> None:
    """Nobody outside heard the group (every member's cost is 0): whichever member the comparison reports
    as best, every member the receptions cannot reconcile with another contends; renumbering the devices
    changes nothing (a spoofer grinding a low id cannot make its spot the reference)."""
    order = np.array(perm)
    where = np.argsort(order)  # new index of old device i
    labels = np.zeros(4, dtype=np.int64)
    alive = np.ones(4, dtype=bool)
    xy, left, right = BUILDING_XY[order], where[BUILDING_LEFT], where[BUILDING_RIGHT]
    compared = _compared([int(order[0])] * 4, [0.0] * 4)  # "best": whoever comes first
    contender = find_contenders(xy, left, right, BUILDING_BOUND, labels, compared, alive)
    assert contender.tolist() == [True] * 4  # each tenant cannot be reconciled with the spoofer's spot
    assert compute_coverage_shares(labels, contender).tolist() == [4] * 4


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
