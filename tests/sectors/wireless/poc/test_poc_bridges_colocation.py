"""Bridge protection (corroboration over independent paths), radios proven to stand together (one HIP-17
cell, and which member's assertion their pooled links explain), on small inputs with known answers."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.colocation import compare_group_assertions
from opendepin.sectors.wireless.poc.corroboration import (
    PPM,
    build_corroboration_notes,
    compute_corroboration,
    compute_cut_off,
    compute_uncorroborated_ppm,
)
from opendepin.sectors.wireless.poc.evidence import BeaconTable, DeviceTable, LinkTable
from opendepin.sectors.wireless.poc.linkmodel import compute_expected_rssi_dbm
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trilateration import PositionFit
from opendepin.sectors.wireless.poc.trust import (
    COLOCATED,
    SHARED,
    compute_colocated_cells,
    compute_trust,
    detect_colocation,
    detect_silence,
    judge_links,
)

TRUST = TrustParams()
LOW = compute_uncorroborated_ppm(TRUST.uncorroborated_share)


def _edges(pairs: list[tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    return (
        np.array([a for a, _ in pairs], dtype=np.int64),
        np.array([b for _, b in pairs], dtype=np.int64),
    )


def _anchors(size: int, *indices: int) -> np.ndarray:
    anchor = np.zeros(size, dtype=bool)
    anchor[list(indices)] = True
    return anchor


# anchored triangle 0-1-2; radio 2 bridges to a ring 3..8 (a cycle, each forging with the next); 9 hangs on 1
HONEST = [(0, 1), (1, 2), (2, 0), (1, 9)]
RING = [(3, 4), (4, 5), (5, 6), (6, 7), (7, 8), (8, 3)]


def test_a_ring_behind_one_bridge_radio_is_cut_off_and_paid_the_uncorroborated_share() -> None:
    left, right = _edges([*HONEST, (2, 3), (2, 5), (2, 7), *RING])  # many edges, one radio
    anchor = _anchors(10, 0)
    assert compute_cut_off(10, left, right, anchor, 4).tolist() == [False] * 3 + [True] * 6 + [False]
    result = compute_corroboration(10, left, right, anchor, TRUST)
    assert result.factor_ppm == [PPM] * 3 + [LOW] * 6 + [PPM]
    notes = build_corroboration_notes([f"d{i}" for i in range(10)], result)
    assert notes[0].evidence["cut_off_by_one_radio"] is True


def test_small_pieces_on_one_radio_and_rings_reached_twice_stay_corroborated() -> None:
    left, right = _edges([*HONEST, (2, 3), *RING])
    anchor = _anchors(10, 0)
    assert not compute_cut_off(10, left, right, anchor, 6).any()  # a piece of 6 may hang on one radio
    left, right = _edges([*HONEST, (2, 3), (1, 6), *RING])  # a second, independent radio reaches it
    assert not compute_cut_off(10, left, right, anchor, 4).any()
    left, right = _edges([*HONEST, (0, 3), (0, 6), *RING])  # both paths through the anchor: it vouches
    assert not compute_cut_off(10, left, right, anchor, 4).any()
    left, right = _edges([*HONEST, (0, 3), *RING])  # the anchor vouches for 3; 4..8 hang on 3 alone
    assert compute_cut_off(10, left, right, anchor, 4).tolist() == [False] * 4 + [True] * 5 + [False]
    left, right = _edges([*HONEST, (2, 3), *RING])  # an anchor inside the piece corroborates it
    assert not compute_cut_off(10, left, right, _anchors(10, 0, 5), 4).any()


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(range(10))), st.booleans())
def test_cut_off_ignores_indices_and_edge_order(perm: list[int], flip: bool) -> None:
    pairs = [*HONEST, (2, 3), (2, 5), *RING]
    left, right = _edges(pairs)
    base = compute_cut_off(10, left, right, _anchors(10, 0), 4)
    mapping = np.array(perm, dtype=np.int64)
    a, b = (mapping[right], mapping[left]) if flip else (mapping[left], mapping[right])
    order = np.argsort(-a, kind="stable")
    moved = compute_cut_off(10, a[order], b[order], _anchors(10, perm[0]), 4)
    assert moved[mapping].tolist() == base.tolist()


def test_radios_proven_together_are_counted_in_one_cell() -> None:
    cells = ["8c2a100d2c9a9ff", "8c2a100d2c001ff", "8c2a100d2c111ff", "8c2a100d2c5a1ff", "8c2a100d2c6a1ff"]
    left, right = _edges([(0, 1), (1, 2)])  # 0, 1, 2 too close by RSSI; 3, 4 alone
    mapping, sizes, labels = compute_colocated_cells(5, left, right, cells)
    assert mapping == {0: cells[1], 1: cells[1], 2: cells[1]}
    assert sizes.tolist() == [3, 3, 3, 1, 1]
    assert labels[0] == labels[1] == labels[2] != labels[3]
    assert compute_colocated_cells(5, left[:0], right[:0], cells)[0] == {}


def _pair_with_neighbours(spoof_north_m: float) -> tuple[LinkTable, DeviceTable, np.ndarray]:
    """Devices 0 (honest, asserted where it stands) and 1 (standing by 0, asserted `spoof_north_m` north),
    heard by six neighbours around them 800–2,500 m away, with the RSSI the model gives at the true
    distance."""
    angles = np.linspace(0.0, 2 * np.pi, 6, endpoint=False)
    radii = np.array([800.0, 1_200.0, 1_600.0, 2_000.0, 2_500.0, 1_000.0])
    neighbours = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
    xy = np.vstack([[0.0, 0.0], [0.0, spoof_north_m], neighbours])
    n = len(xy)
    beaconer = np.array([0] * 6 + [1] * 6, dtype=np.int64)
    witness = np.array(list(range(2, 8)) * 2, dtype=np.int64)
    true_distance = np.sqrt((neighbours**2).sum(axis=1))
    distance = np.concatenate([true_distance, true_distance])
    tx = np.full(12, 27.0)
    rssi = compute_expected_rssi_dbm(tx, np.full(12, 2.4), distance, TRUST)
    links = LinkTable(np.arange(12), beaconer, witness, rssi, tx, distance, np.zeros(12))
    devices = DeviceTable(
        [f"d{i}" for i in range(n)],
        np.arange(n, dtype=np.int64),
        xy,
        np.full(n, 1.2),
        np.ones(n, dtype=bool),
    )
    labels = np.arange(n, dtype=np.int64)
    labels[1] = 0
    return links, devices, labels


def test_the_member_asserting_away_from_where_the_group_is_heard_has_the_gain() -> None:
    links, devices, labels = _pair_with_neighbours(600.0)
    result = compare_group_assertions(links, np.ones(links.size, dtype=bool), devices, labels, TRUST)
    assert result.gain[0] == 0.0
    assert result.gain[1] > 1.0  # six neighbours, noiseless; a real epoch pools dozens of links
    assert result.links[0] == result.links[1] == 12
    assert result.gain[2:].tolist() == [0.0] * 6 and result.links[2:].tolist() == [0] * 6
    nearer, near_devices, _ = _pair_with_neighbours(300.0)
    closer = compare_group_assertions(nearer, np.ones(links.size, dtype=bool), near_devices, labels, TRUST)
    assert 0.0 < closer.gain[1] < result.gain[1]


def _table(xy: list[tuple[float, float]], owners: list[int], cells: list[str] | None = None) -> DeviceTable:
    n = len(xy)
    return DeviceTable(
        [f"d{i}" for i in range(n)],
        np.array(owners, dtype=np.int64),
        np.array(xy, dtype=np.float64),
        np.full(n, 1.2),
        np.ones(n, dtype=bool),
        None,
        cells,
    )


def test_a_link_too_loud_for_its_assertions_counts_both_radios_in_one_cell_and_blames_neither() -> None:
    cells = ["8c2a100d2c9a9ff", "8c2a100d2c001ff"]
    devices = _table([(0.0, 0.0), (0.0, 600.0)], [0, 1], cells)
    tx = np.full(4, 27.0)
    loud = float(compute_expected_rssi_dbm(tx[:1], np.full(1, 2.4), np.full(1, 30.0), TRUST)[0])
    links = LinkTable(
        np.array([0, 0, 1, 1]),
        np.array([0, 0, 1, 1]),
        np.array([1, 1, 0, 0]),
        np.full(4, loud),
        tx,
        np.full(4, 600.0),
        np.zeros(4),
    )
    beacons = BeaconTable(np.array([0, 1]), np.full(2, 27.0), np.array([0 * 2 + 1, 1 * 2 + 0]))
    judged = judge_links(links, devices, TRUST)
    assert judged.too_close is not None and judged.too_close.all()
    result = compute_trust(links, judged, devices, beacons, {}, TRUST)
    assert result.colocated == {"d0": cells[1], "d1": cells[1]}
    # no outsider heard either: the evidence cannot say which assertion is true, so the pair shares one
    # hotspot's coverage (each paid half), and nobody is blamed
    assert result.shared == {"d0": 2, "d1": 2}
    assert {(n.device_id, n.reason) for n in result.notes} == {
        ("d0", COLOCATED),
        ("d1", COLOCATED),
        ("d0", SHARED),
        ("d1", SHARED),
    }
    assert result.trust == {"d0": PPM, "d1": PPM}


def test_owner_colocation_needs_the_radio_to_place_them_elsewhere_with_confidence() -> None:
    devices = _table([(0.0, 0.0), (1_500.0, 0.0), (0.0, 1_500.0)], [0, 0, 0])
    gathered = np.array([[400.0, 400.0], [450.0, 400.0], [400.0, 450.0]])
    offsets = np.sqrt(((gathered - devices.xy) ** 2).sum(axis=1))
    links = np.full(3, 10, dtype=np.int64)
    weak = PositionFit(offsets, np.full(3, 3.0), links, gathered)
    assert detect_colocation(weak, devices, TRUST, 1).factor.tolist() == [1.0, 1.0, 1.0]
    strong = PositionFit(offsets, np.full(3, 20.0), links, gathered)
    assert detect_colocation(strong, devices, TRUST, 1).factor.tolist() == [0.0, 0.0, 0.0]


def _silent_neighbours(count: int) -> tuple[DeviceTable, BeaconTable]:
    """Device 0 beacons four times; `count` neighbours of different owners 200 m away never hear it."""
    xy = [(0.0, 0.0)] + [(200.0 * np.cos(k), 200.0 * np.sin(k)) for k in range(count)]
    devices = _table(xy, list(range(count + 1)))
    beacons = BeaconTable(np.zeros(4, dtype=np.int64), np.full(4, 27.0), np.zeros(0, dtype=np.int64))
    return devices, beacons


def test_silence_needs_three_counterpart_owners_this_epoch() -> None:
    devices, beacons = _silent_neighbours(2)
    output, _ = detect_silence(devices, beacons, {}, TRUST, 3)
    assert output.factor[0] == 1.0 and output.value[0] == 0.0
    devices, beacons = _silent_neighbours(3)
    output, _ = detect_silence(devices, beacons, {}, TRUST, 4)
    assert output.factor[0] == 0.0
