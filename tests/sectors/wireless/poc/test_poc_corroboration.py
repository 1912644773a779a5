"""Corroboration from anchors and anchor evidence: wallet-blind, exact, on small graphs with known answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.corroboration import (
    PPM,
    UNCORROBORATED,
    build_corroboration_notes,
    compute_anchor_evidence,
    compute_corroboration,
    compute_cut_off,
    compute_memory,
    compute_uncorroborated_ppm,
    is_anchor,
)
from opendepin.sectors.wireless.poc.evidence import DeviceTable
from opendepin.sectors.wireless.poc.graph import compute_components
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trust import reset_moved

TRUST = TrustParams()
LOW = compute_uncorroborated_ppm(TRUST.uncorroborated_share)


def _edges(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([a for a, _ in pairs], dtype=np.int64),
        np.array([b for _, b in pairs], dtype=np.int64),
    )


def test_uncorroborated_share_is_the_decimal_it_spells() -> None:
    assert compute_uncorroborated_ppm(0.05) == 50_000
    assert compute_uncorroborated_ppm(0.1) == 100_000
    assert compute_uncorroborated_ppm(1.0) == PPM


def test_a_component_without_anchor_is_paid_the_uncorroborated_share() -> None:
    # 0-1-2 holds anchor 0; 3-4-5 is a ring vouching only for itself; 6 has no link at all
    left, right = _edges([(0, 1), (1, 2), (3, 4), (4, 5), (5, 3)])
    anchor = np.zeros(7, dtype=bool)
    anchor[0] = True
    result = compute_corroboration(7, left, right, anchor, TRUST)
    assert result.applied
    assert result.factor_ppm == [PPM, PPM, PPM, LOW, LOW, LOW, PPM]
    assert result.component_size.tolist()[:6] == [3, 3, 3, 3, 3, 3]
    notes = build_corroboration_notes([f"d{i}" for i in range(7)], result)
    assert [n.device_id for n in notes] == ["d3", "d4", "d5"]
    assert {n.reason for n in notes} == {UNCORROBORATED}
    assert notes[0].evidence == {"component_size": 3, "anchors_in_component": 0, "factor_ppm": LOW}


def test_no_anchor_in_the_epoch_means_nothing_is_applied() -> None:
    left, right = _edges([(0, 1), (2, 3)])
    result = compute_corroboration(4, left, right, np.zeros(4, dtype=bool), TRUST)
    assert not result.applied
    assert result.factor_ppm == [PPM] * 4


def test_corroboration_can_be_switched_off() -> None:
    left, right = _edges([(0, 1), (2, 3)])
    anchor = np.array([True, False, False, False])
    off = TrustParams(corroboration=False)
    assert compute_corroboration(4, left, right, anchor, off).factor_ppm == [PPM] * 4


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=30),
    st.lists(st.integers(0, 11), max_size=3),
    st.permutations(list(range(12))),
)
def test_corroboration_ignores_labels_and_wallets(
    pairs: list[tuple[int, int]], anchors: list[int], relabel: list[int]
) -> None:
    """Renaming the devices (or who owns them: owners are not an input) renames the result, nothing else;
    and once corroboration applies, adding an edge never lowers anyone's factor through the component rule
    (the bridge rule: `test_a_newcomer_linking_itself_never_lowers_a_radio_it_does_not_carry`)."""
    left, right = _edges(pairs)
    anchor = np.zeros(12, dtype=bool)
    anchor[anchors] = True
    base = compute_corroboration(12, left, right, anchor, TRUST)
    perm = np.array(relabel, dtype=np.int64)
    moved_anchor = np.zeros(12, dtype=bool)
    moved_anchor[perm[anchor]] = True
    moved = compute_corroboration(12, perm[left], perm[right], moved_anchor, TRUST)
    assert [moved.factor_ppm[perm[k]] for k in range(12)] == base.factor_ppm
    whole = TrustParams(corroboration_max_piece=12)  # no piece of 12 radios can exceed it
    before = compute_corroboration(12, left, right, anchor, whole)
    more = compute_corroboration(
        12, np.append(left, 0).astype(np.int64), np.append(right, 11).astype(np.int64), anchor, whole
    )
    linked_before = set(left.tolist()) | set(right.tolist())
    for k in linked_before if before.applied else ():
        assert more.factor_ppm[k] >= before.factor_ppm[k]


def _times(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


def test_a_newcomer_cannot_push_established_radios_over_the_bridge_limit() -> None:
    """The griefing attack the all-or-none bridge rule allowed (docs/wireless-poc.md, "Bridges"): anchor 2 –
    radio 1 – radio 0 with 3, 4 and 5 hanging on 0 is a piece of 4 behind radio 1, corroborated; one cheap
    radio (11) onboarded after them that links itself to 0 makes it 5. Radio 1 vouches for the 4 that
    stood there first: they keep their pay, the newcomer gets the uncorroborated share."""
    left, right = _edges([(0, 1), (0, 3), (0, 4), (0, 5), (1, 2)])
    anchor = np.zeros(12, dtype=bool)
    anchor[2] = True
    onboarded = _times(500, 100, 0, 520, 540, 560, 0, 0, 0, 0, 0, 9_000)
    before = compute_corroboration(12, left, right, anchor, TRUST, None, onboarded)
    after = compute_corroboration(
        12, np.append(left, 0), np.append(right, 11), anchor, TRUST, None, onboarded
    )
    assert [before.factor_ppm[k] for k in (0, 1, 3, 4, 5)] == [PPM] * 5
    assert [after.factor_ppm[k] for k in (0, 1, 3, 4, 5)] == [PPM] * 5
    assert after.factor_ppm[11] == LOW
    assert after.cut_off is not None and after.cut_off.tolist() == [False] * 11 + [True]
    # however many links the newcomer adds inside the piece, it stays behind the ones it joined
    more = _edges([(0, 1), (0, 3), (0, 4), (0, 5), (1, 2), (11, 0), (11, 3), (11, 4), (11, 5)])
    last = compute_corroboration(12, *more, anchor, TRUST, None, onboarded)
    assert [last.factor_ppm[k] for k in (0, 3, 4, 5, 11)] == [PPM] * 4 + [LOW]
    # radios onboarded together are vouched for together or not at all (ids never decide)
    same = _times(500, 100, 0, 500, 500, 500, 0, 0, 0, 0, 0, 500)
    together = compute_corroboration(12, np.append(left, 0), np.append(right, 11), anchor, TRUST, None, same)
    assert [together.factor_ppm[k] for k in (0, 3, 4, 5, 11)] == [LOW] * 5


def test_a_bridge_vouches_for_at_most_its_allowance_however_the_ring_is_built() -> None:
    """Anchor 0 – honest 1 – bridge 2; a ring of 9 virtual hotspots 3..11 behind the bridge, onboarded one
    by one: the bridge vouches for the first 4 to arrive, never more; cut vertices nested inside the ring
    (a chain, a star) only narrow that; sleepers onboarded before everyone gain no more than the 4."""
    anchor = np.zeros(13, dtype=bool)
    anchor[0] = True
    staggered = _times(0, 10, 20, *range(100, 109), 0)
    ring = [(3 + k, 3 + (k + 1) % 9) for k in range(9)]
    chain = [(3 + k, 4 + k) for k in range(8)]
    star = [(3, 4 + k) for k in range(8)]
    for shape in (ring, chain, star):
        left, right = _edges([(0, 1), (1, 2), (2, 3), (2, 7), *shape])
        result = compute_corroboration(13, left, right, anchor, TRUST, None, staggered)
        assert sum(result.factor_ppm[k] == PPM for k in range(3, 12)) <= 4
        # radio 1 alone connects 2..11 to the anchor: it vouches for 2 and 3 more at most
        assert sum(result.factor_ppm[k] == PPM for k in range(2, 12)) <= 4
    # sleepers 8..11 onboarded before every honest radio and linked to honest radio 1, which alone connects
    # honest 2..5 too: they take its allowance (4) and no more (the price of preferring the longest-standing:
    # radios older than the ones they displace); a newcomer (12) joining them gets nothing
    sleepy = _times(0, 10, 100, 101, 102, 103, 0, 0, 1, 2, 3, 4, 9_000)
    pairs = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (1, 8), (8, 9), (9, 10), (10, 11), (11, 12)]
    result = compute_corroboration(13, *_edges(pairs), anchor, TRUST, None, sleepy)
    assert [k for k in range(13) if result.factor_ppm[k] < PPM] == [2, 3, 4, 5, 12]


def test_sleepers_joined_through_a_newcomer_arrive_with_it() -> None:
    """A ring onboarded long ago (3..6), linked to an established piece (8..11 behind radio 1) through a
    radio onboarded last (7), arrives when that radio does: behind the established piece."""
    anchor = np.zeros(12, dtype=bool)
    anchor[0] = True
    onboarded = _times(0, 50, 0, 1, 2, 3, 4, 9_000, 100, 101, 102, 103)
    honest = [(0, 1), (1, 8), (8, 9), (9, 10), (10, 11)]
    sleepers = [(3, 4), (4, 5), (5, 6), (6, 3), (6, 7)]
    before = compute_corroboration(12, *_edges([*honest, *sleepers]), anchor, TRUST, None, onboarded)
    after = compute_corroboration(12, *_edges([*honest, *sleepers, (7, 11)]), anchor, TRUST, None, onboarded)
    assert [before.factor_ppm[k] for k in (8, 9, 10, 11)] == [PPM] * 4
    assert [after.factor_ppm[k] for k in (8, 9, 10, 11)] == [PPM] * 4
    assert [after.factor_ppm[k] for k in (3, 4, 5, 6, 7)] == [LOW] * 5


N = 12
graphs = st.tuples(
    st.lists(st.tuples(st.integers(0, N - 1), st.integers(0, N - 1)), max_size=24),
    st.lists(st.integers(0, N - 1), min_size=1, max_size=2),
    st.lists(st.integers(0, 5), min_size=N, max_size=N),
    st.integers(1, 4),
)


def _reaches_anchor(pairs: list[tuple[int, int]], anchor: np.ndarray, avoid: int) -> set[int]:
    """Linked radios connected to an anchor by links that do not touch `avoid`."""
    kept = [(a, b) for a, b in pairs if avoid not in (a, b) and a != b]
    if not kept:
        return set()
    labels = compute_components(N, *_edges(kept))
    linked = {v for pair in kept for v in pair}
    anchored = {int(labels[v]) for v in np.flatnonzero(anchor).tolist() if v in linked}
    return {v for v in linked if int(labels[v]) in anchored}


def _brute_cut_off(pairs: list[tuple[int, int]], anchor: np.ndarray, times: list[int], k: int) -> list[bool]:
    """The rule by definition, slowly: for every non-anchor radio c, the radios it alone connects to the
    anchors; each one's arrival is the least onboarding time t at which it joins c through radios
    onboarded no later than t; c vouches for it iff at most k of them arrived no later."""
    adjacency: dict[int, set[int]] = {v: set() for v in range(N)}
    for a, b in pairs:
        if a != b:
            adjacency[a].add(b)
            adjacency[b].add(a)

    def reach(start: set[int], allowed: set[int]) -> set[int]:
        seen, todo = set(start), list(start)
        while todo:
            for other in adjacency[todo.pop()]:
                if other in allowed and other not in seen:
                    seen.add(other)
                    todo.append(other)
        return seen

    anchors = {v for v in range(N) if anchor[v]}
    cut = [False] * N
    for c in range(N):
        if c in anchors or not (reach({c}, set(range(N))) & anchors):
            continue
        rest = set(range(N)) - {c}
        behind = {v for v in rest if v in reach({c}, set(range(N))) and not (reach({v}, rest) & anchors)}
        arrival = {}
        for v in behind:
            arrival[v] = min(
                t for t in sorted(set(times)) if v in reach({c}, {c} | {u for u in behind if times[u] <= t})
            )
        for v in behind:
            if sum(arrival[u] <= arrival[v] for u in behind) > k:
                cut[v] = True
    return cut


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_cut_off_is_the_rule_as_defined(
    graph: tuple[list[tuple[int, int]], list[int], list[int], int],
) -> None:
    pairs, anchors, times, k = graph
    anchor = np.zeros(N, dtype=bool)
    anchor[anchors] = True
    left, right = _edges(pairs)
    linked = np.zeros(N, dtype=bool)
    linked[left] = linked[right] = True
    expected = _brute_cut_off(pairs, anchor & linked, times, k)
    got = compute_cut_off(N, left, right, anchor & linked, k, np.array(times, dtype=np.int64))
    assert got.tolist() == expected


@settings(max_examples=200, deadline=None)
@given(graphs, st.integers(0, N - 2))
def test_a_newcomer_linking_itself_never_lowers_a_radio_it_does_not_carry(
    graph: tuple[list[tuple[int, int]], list[int], list[int], int], other: int
) -> None:
    """Radio N − 1 is onboarded after everyone else; adding any link of it never lowers the factor of a
    radio that reaches an anchor without it (radios that reach the anchors only through the newcomer
    depend on it: their corroboration may change with its links, see docs/wireless-poc.md)."""
    pairs, anchors, times, k = graph
    anchor = np.zeros(N, dtype=bool)
    anchor[anchors] = True
    onboarded = np.array([*times[:-1], 100], dtype=np.int64)
    params = TrustParams(corroboration_max_piece=k)
    before = compute_corroboration(N, *_edges(pairs), anchor, params, None, onboarded)
    after = compute_corroboration(N, *_edges([*pairs, (N - 1, other)]), anchor, params, None, onboarded)
    for v in _reaches_anchor(pairs, anchor, N - 1):
        assert after.factor_ppm[v] >= before.factor_ppm[v]


@settings(max_examples=200, deadline=None)
@given(graphs)
def test_no_radio_passes_corroboration_to_more_than_its_allowance(
    graph: tuple[list[tuple[int, int]], list[int], list[int], int],
) -> None:
    """For every radio c that is not an anchor: of the radios that reach every anchor only through c (all
    the pieces it alone connects, together), at most `corroboration_max_piece` are corroborated."""
    pairs, anchors, times, k = graph
    anchor = np.zeros(N, dtype=bool)
    anchor[anchors] = True
    params = TrustParams(corroboration_max_piece=k)
    result = compute_corroboration(N, *_edges(pairs), anchor, params, None, np.array(times, dtype=np.int64))
    for c in range(N):
        if anchor[c]:
            continue
        everyone = _reaches_anchor(pairs, anchor, -1)
        behind = everyone - _reaches_anchor(pairs, anchor, c) - {c} - set(np.flatnonzero(anchor).tolist())
        assert sum(result.factor_ppm[v] == PPM for v in behind) <= k


def test_is_anchor_needs_the_attestation_and_a_listed_maker() -> None:
    assert is_anchor({"verifier": True}, "0xAbC", [])
    assert is_anchor({"verifier": True}, "0xabc", ["0xABC"])
    assert not is_anchor({"verifier": True}, "0xdef", ["0xabc"])
    assert not is_anchor({"verifier": "yes"}, "0xabc", [])
    assert not is_anchor({}, "0xabc", [])


def test_anchor_evidence_counts_links_to_anchors_only() -> None:
    beaconer = np.array([0, 1, 2, 0], dtype=np.int64)
    witness = np.array([1, 0, 3, 3], dtype=np.int64)
    surprise = np.array([2.0, 4.0, 9.0, 1.0])
    anchor = np.array([True, False, False, True])
    num, den = compute_anchor_evidence(beaconer, witness, surprise, anchor, 4)
    assert den.tolist() == [0.0, 2.0, 1.0, 0.0]  # 0↔3 is anchor-to-anchor: no one's evidence
    assert num.tolist() == [0.0, 6.0, 9.0, 0.0]


def test_a_new_assertion_drops_carried_evidence_but_keeps_the_penalty() -> None:
    devices = DeviceTable(
        ["a", "b"],
        np.array([0, 1], dtype=np.int64),
        np.zeros((2, 2)),
        np.zeros(2),
        np.ones(2, dtype=bool),
        cells=["new-cell", "same-cell"],
    )
    prior = {
        "a": {"penalty_ppm": 300_000, "silence": [5, 6], "cell": "old-cell"},
        "b": {"silence": [5, 6], "cell": "same-cell"},
    }
    reset = reset_moved(prior, devices)
    assert reset["a"] == {"penalty_ppm": 300_000}
    assert reset["b"] == prior["b"]


def test_corroboration_is_remembered_but_only_fresh_evidence_restarts_it() -> None:
    left, right = _edges([(0, 1), (2, 3)])
    anchor = np.array([True, False, False, False])
    remembered = np.array([False, False, True, False])
    result = compute_corroboration(4, left, right, anchor, TRUST, remembered)
    assert result.factor_ppm == [PPM, PPM, PPM, LOW]
    assert result.fresh.tolist() == [True, True, False, False]


def test_memory_restarts_on_fresh_corroboration_and_counts_down() -> None:
    fresh = np.array([True, False, False, True])
    before = np.array([0, 3, 0, 1], dtype=np.int64)
    assert compute_memory(fresh, before, 7).tolist() == [7, 2, 0, 7]


def test_a_community_an_anchor_corroborates_is_not_closed() -> None:
    from opendepin.sectors.wireless.poc.evidence import LinkTable
    from opendepin.sectors.wireless.poc.trust import detect_structure

    n = 6  # six hotspots of two owners, all witnessing each other: a closed few-owner community
    devices = DeviceTable(
        [f"d{i}" for i in range(n)],
        np.array([0, 0, 0, 1, 1, 1], dtype=np.int64),
        np.array([[1_000.0 * i, 0.0] for i in range(n)]),
        np.full(n, 3.0),
        np.ones(n, dtype=bool),
    )
    pairs = [(a, b) for a in range(n) for b in range(n) if a != b]
    b, w = _edges(pairs)
    links = LinkTable(
        np.arange(len(b)),
        b,
        w,
        np.full(len(b), -100.0),
        np.full(len(b), 27.0),
        np.ones(len(b)),
        np.ones(len(b)),
    )
    usable = np.ones(len(b), dtype=bool)
    closed, _ = detect_structure(links, usable, devices, TRUST, 2)
    assert (closed.factor == 0.0).all()
    corroborated, _ = detect_structure(links, usable, devices, TRUST, 2, np.ones(n, dtype=bool))
    assert (corroborated.factor == 1.0).all()


def test_radios_whose_signal_puts_them_within_350_m_do_not_witness_each_other() -> None:
    from opendepin.sectors.wireless.poc.evidence import LinkTable
    from opendepin.sectors.wireless.poc.linkmodel import compute_expected_rssi_dbm
    from opendepin.sectors.wireless.poc.trust import compute_too_close_rssi_dbm, judge_links

    devices = DeviceTable(
        ["a", "b"],
        np.array([0, 1], dtype=np.int64),
        np.zeros((2, 2)),
        np.full(2, 3.0),
        np.ones(2, dtype=bool),
    )
    tx, gains = np.full(3, 27.0), np.full(3, 6.0)
    distance = np.array([600.0, 600.0, 2_500.0])
    nominal = compute_expected_rssi_dbm(tx, gains, distance, TRUST)
    rssi = np.array([-60.0, nominal[1], -95.0])  # a neighbour 50 m away; an honest link; a loud far link
    links = LinkTable(
        np.arange(3),
        np.zeros(3, dtype=np.int64),
        np.ones(3, dtype=np.int64),
        rssi,
        tx,
        distance,
        np.full(3, 2.0),
    )
    judged = judge_links(links, devices, TRUST)
    assert judged.too_close is not None
    assert judged.too_close.tolist() == [True, False, False]
    limit = compute_too_close_rssi_dbm(tx[:1], gains[:1], TRUST)[0]
    at_350 = compute_expected_rssi_dbm(tx[:1], gains[:1], np.array([350.0]), TRUST)[0]
    assert limit == at_350 + TRUST.too_close_sigma * TRUST.shadowing_sigma_db
