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
    compute_memory,
    compute_uncorroborated_ppm,
    is_anchor,
)
from opendepin.sectors.wireless.poc.evidence import DeviceTable
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
    (the bridge rule is not monotone: `test_one_link_can_push_a_piece_over_the_bridge_limit`)."""
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


def test_one_link_can_push_a_piece_over_the_bridge_limit() -> None:
    """The known limit of the bridge rule (docs/wireless-poc.md, "Bridges"): anchor 2 – radio 1 – radio 0
    with 3, 4 and 5 hanging on 0 is a piece of 4 behind radio 1, corroborated; one more radio (11) linked
    to 0 makes it 5, over `corroboration_max_piece`, and the whole piece drops to the uncorroborated share.
    An attacker can do this to honest radios at the edge of coverage with one cheap radio; the carried
    memory (`corroboration_memory_epochs`) keeps them corroborated for that many epochs."""
    left, right = _edges([(0, 1), (0, 3), (0, 4), (0, 5), (1, 2)])
    anchor = np.zeros(12, dtype=bool)
    anchor[2] = True
    before = compute_corroboration(12, left, right, anchor, TRUST)
    after = compute_corroboration(12, np.append(left, 0), np.append(right, 11), anchor, TRUST)
    assert [before.factor_ppm[k] for k in (0, 3, 4, 5)] == [PPM] * 4
    assert [after.factor_ppm[k] for k in (0, 3, 4, 5, 11)] == [LOW] * 5
    remembered = np.zeros(12, dtype=bool)
    remembered[[0, 1, 3, 4, 5]] = True
    kept = compute_corroboration(12, np.append(left, 0), np.append(right, 11), anchor, TRUST, remembered)
    assert [kept.factor_ppm[k] for k in (0, 3, 4, 5)] == [PPM] * 4 and kept.factor_ppm[11] == LOW


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
