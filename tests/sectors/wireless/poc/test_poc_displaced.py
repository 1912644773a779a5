"""Which radio of a group standing together lies about where it stands (`trust.colocated_displaced`): the
likelihood of what outsiders heard (and did not hear) of the members' beacons, at each member's assertion.
Small inputs with known answers: a sub-kilometre spoofer caught, its honest neighbour and building tenants
not, honest radios wrongly put together not accused."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.colocation import (
    HEARD,
    HEARD_RSSI,
    SILENT,
    compare_group_assertions,
    compute_pair_nll,
)
from opendepin.sectors.wireless.poc.evidence import BeaconTable, DeviceTable, LinkTable
from opendepin.sectors.wireless.poc.geo import pairs_near
from opendepin.sectors.wireless.poc.linkmodel import compute_expected_rssi_dbm, compute_heard_nll
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trust import (
    compute_apart_bound_m,
    compute_group_apart_m,
    compute_too_close_rssi_dbm,
    detect_displaced,
    find_loud_rejected,
)

TRUST = TrustParams()
GAIN = 1.2
OUTSIDERS = [
    (900.0, 0.0),
    (-800.0, 300.0),
    (300.0, -1_000.0),
    (-600.0, -700.0),
    (1_000.0, 500.0),
    (-1_100.0, -200.0),
    (200.0, 1_150.0),
    (-250.0, 1_250.0),
    (100.0, 1_700.0),
    (-150.0, 1_650.0),
]
"""Neighbours around a spot (0, 0): eight within hearing range of it, two 1.65–1.7 km north (beyond it)."""


def _epoch(
    real: list[tuple[float, float]], asserted: list[tuple[float, float]]
) -> tuple[LinkTable, DeviceTable, BeaconTable]:
    """Members (one beacon each) standing at `real`, asserting `asserted`, then the outsiders standing where
    they assert; an outsider hears a member's beacon when the model's median at the true distance reaches
    the sensitivity, with exactly that RSSI."""
    members = len(real)
    xy_real = np.array(real + OUTSIDERS)
    xy = np.array(asserted + OUTSIDERS)
    n = len(xy)
    beaconer, witness, rssi, reported = [], [], [], []
    for m in range(members):
        for o in range(members, n):
            distance = float(np.hypot(*(xy_real[m] - xy_real[o])))
            level = float(
                compute_expected_rssi_dbm(
                    np.full(1, 27.0), np.full(1, 2 * GAIN), np.full(1, distance), TRUST
                )[0]
            )
            if level >= TRUST.sensitivity_dbm:
                beaconer.append(m)
                witness.append(o)
                rssi.append(level)
                reported.append(m * n + o)
    count = len(beaconer)
    distance = np.hypot(*(xy[np.array(beaconer)] - xy[np.array(witness)]).T)
    links = LinkTable(
        np.array(beaconer, dtype=np.int64),
        np.array(beaconer, dtype=np.int64),
        np.array(witness, dtype=np.int64),
        np.array(rssi),
        np.full(count, 27.0),
        distance,
        np.zeros(count),
    )
    devices = DeviceTable(
        [f"d{i}" for i in range(n)],
        np.arange(n, dtype=np.int64),
        xy,
        np.full(n, GAIN),
        np.ones(n, dtype=bool),
    )
    beacons = BeaconTable(
        np.arange(members, dtype=np.int64), np.full(members, 27.0), np.array(reported, dtype=np.int64)
    )
    return links, devices, beacons


def _together(members: int, n: int) -> np.ndarray:
    labels = np.arange(n, dtype=np.int64)
    labels[:members] = 0
    return labels


def test_a_spoofer_standing_by_an_honest_radio_and_asserting_600_m_away_is_caught() -> None:
    links, devices, beacons = _epoch([(0.0, 0.0), (20.0, 10.0)], [(0.0, 0.0), (0.0, 600.0)])
    labels = _together(2, devices.size)
    usable = np.ones(links.size, dtype=bool)
    compared = compare_group_assertions(links, usable, devices, labels, TRUST, beacons)
    assert compared.gain[0] == 0.0 and compared.to_best_m[0] == 0.0
    assert compared.gain[1] > TRUST.displaced_full_gain
    assert compared.own_gain[1] > 0.0
    assert compared.to_best_m[1] == 600.0
    assert compared.gain[2:].tolist() == [0.0] * (devices.size - 2)
    output = detect_displaced(links, usable, devices, labels, TRUST, beacons)
    assert output.factor[0] == 1.0 and output.factor[1] == 0.0
    assert output.factor[2:].tolist() == [1.0] * (devices.size - 2)
    assert output.evidence["to_best_assertion_m"][1] == 600.0


def test_silent_neighbours_near_the_false_assertion_add_evidence() -> None:
    links, devices, beacons = _epoch([(0.0, 0.0), (20.0, 10.0)], [(0.0, 0.0), (0.0, 600.0)])
    labels = _together(2, devices.size)
    usable = np.ones(links.size, dtype=bool)
    heard_only = compare_group_assertions(links, usable, devices, labels, TRUST)
    with_silence = compare_group_assertions(links, usable, devices, labels, TRUST, beacons)
    assert 0.0 < heard_only.gain[1] < with_silence.gain[1]


def test_tenants_of_one_building_are_not_judged_whoever_fits_best() -> None:
    real = [(0.0, 0.0), (15.0, 10.0), (-10.0, 20.0)]
    links, devices, beacons = _epoch(real, [(0.0, 0.0), (40.0, 30.0), (-30.0, 60.0)])
    labels = _together(3, devices.size)
    output = detect_displaced(links, np.ones(links.size, dtype=bool), devices, labels, TRUST, beacons)
    assert output.factor.tolist() == [1.0] * devices.size


def test_honest_radios_wrongly_put_together_are_not_accused() -> None:
    """Two honest radios 700 m apart, each where it says, grouped by mistake (a lucky loud link): each one's
    own beacons fit its own assertion, so neither is judged displaced."""
    links, devices, beacons = _epoch([(0.0, 0.0), (0.0, 700.0)], [(0.0, 0.0), (0.0, 700.0)])
    labels = _together(2, devices.size)
    compared = compare_group_assertions(
        links, np.ones(links.size, dtype=bool), devices, labels, TRUST, beacons
    )
    loser = int(np.argmax(compared.gain[:2]))
    assert compared.gain[loser] > 0.0 and compared.own_gain[loser] <= 0.0
    output = detect_displaced(links, np.ones(links.size, dtype=bool), devices, labels, TRUST, beacons)
    assert output.factor.tolist() == [1.0] * devices.size


def test_the_likelihood_of_a_far_link_is_conditioned_on_it_being_heard() -> None:
    """A link heard just above the sensitivity is likely at a distance where it is heard only by luck:
    conditioned on being heard, its cost there is far below the plain ½·z² (which pulls positions toward
    the neighbours)."""
    expected = compute_expected_rssi_dbm(
        np.full(3, 27.0), np.full(3, 2.4), np.array([500.0, 2_000.0, 4_000.0]), TRUST
    )
    rssi = np.full(3, TRUST.sensitivity_dbm + 1.0)
    conditional = compute_heard_nll(rssi, expected, TRUST, 1e9)
    plain = 0.5 * ((rssi - expected) / TRUST.shadowing_sigma_db) ** 2
    assert int(np.argmin(plain)) == 1  # the plain residual puts it nearer than it most likely is
    assert int(np.argmin(conditional)) == 2
    capped = compute_heard_nll(np.full(1, -30.0), expected[2:], TRUST, TRUST.displaced_link_cap)
    assert capped[0] == TRUST.displaced_link_cap


def test_pair_costs_follow_what_the_outsider_heard() -> None:
    near, far = compute_expected_rssi_dbm(
        np.full(2, 27.0), np.full(2, 2.4), np.array([300.0, 3_000.0]), TRUST
    )
    expected = np.array([near, far])
    status = np.array([SILENT, SILENT])
    silent = compute_pair_nll(status, np.zeros(2), expected, TRUST)
    assert silent[0] > silent[1]  # silence from a near neighbour costs more than from a far one
    heard = compute_pair_nll(np.array([HEARD, HEARD]), np.zeros(2), expected, TRUST)
    assert heard[0] < heard[1]
    exact = compute_pair_nll(np.array([HEARD_RSSI]), np.array([near]), np.array([near]), TRUST)
    assert exact[0] == 0.0
    assert (
        compute_pair_nll(np.array([SILENT]), np.zeros(1), np.array([0.0]), TRUST) <= TRUST.displaced_link_cap
    ).all()


def test_receptions_the_rules_rejected_as_too_close_still_put_radios_together() -> None:
    devices = DeviceTable(
        ["a", "b", "c"],
        np.arange(3, dtype=np.int64),
        np.zeros((3, 2)),
        np.full(3, GAIN),
        np.ones(3, dtype=bool),
    )
    loud = float(
        compute_expected_rssi_dbm(np.full(1, 27.0), np.full(1, 2 * GAIN), np.full(1, 30.0), TRUST)[0]
    )
    quiet = float(
        compute_expected_rssi_dbm(np.full(1, 27.0), np.full(1, 2 * GAIN), np.full(1, 600.0), TRUST)[0]
    )
    beacons = BeaconTable(
        np.zeros(0, dtype=np.int64),
        np.zeros(0),
        np.zeros(0, dtype=np.int64),
        close_beaconer=np.array([0, 1]),
        close_witness=np.array([1, 2]),
        close_rssi_dbm=np.array([loud, quiet]),
        close_tx_power_dbm=np.full(2, 27.0),
    )
    left, right, bound = find_loud_rejected(beacons, devices, TRUST)
    assert left.tolist() == [0] and right.tolist() == [1]
    assert 30.0 < bound[0] < TRUST.too_close_m  # heard as loud as at 30 m: within ~190 m with 4 σ of luck
    bare = BeaconTable(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64))
    assert len(find_loud_rejected(bare, devices, TRUST)[0]) == 0


def test_a_group_may_stand_as_far_apart_as_its_receptions_allow() -> None:
    labels = np.array([0, 0, 0, 3, 4], dtype=np.int64)
    sizes = np.array([3, 3, 3, 1, 1], dtype=np.int64)
    left, right = np.array([0, 1, 1]), np.array([1, 0, 2])
    bound = np.array([80.0, 60.0, 120.0])  # the pair 0-1 heard twice: the louder reception decides
    apart = compute_group_apart_m(5, left, right, bound, labels, sizes)
    assert apart[:3].tolist() == [240.0, 240.0, 240.0]  # two hops of at most 120 m
    assert np.isinf(apart[3:]).all()


def test_honest_neighbours_joined_by_one_lucky_reception_are_not_judged() -> None:
    """Two honest radios 300 m apart, each where it says, put together by a reception only just louder
    than the too-close limit: the group may stand as far apart as they assert, so nobody is judged."""
    links, devices, beacons = _epoch([(0.0, 0.0), (0.0, 300.0)], [(0.0, 0.0), (0.0, 300.0)])
    labels = _together(2, devices.size)
    usable = np.ones(links.size, dtype=bool)
    limit = compute_too_close_rssi_dbm(np.full(1, 27.0), np.full(1, 2 * GAIN), TRUST)
    apart = compute_group_apart_m(
        devices.size,
        np.array([0]),
        np.array([1]),
        compute_apart_bound_m(np.full(1, 27.0), np.full(1, 2 * GAIN), limit + 0.5, TRUST),
        labels,
        np.bincount(labels, minlength=devices.size)[labels],
    )
    assert apart[0] > 300.0
    output = detect_displaced(links, usable, devices, labels, TRUST, beacons, apart)
    assert output.factor.tolist() == [1.0] * devices.size


_COORDINATE = st.floats(-3_000, 3_000) | st.sampled_from([float("nan"), 0.0, 1_000.0])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(_COORDINATE, _COORDINATE), min_size=1, max_size=12),
    st.lists(st.tuples(_COORDINATE, _COORDINATE), min_size=1, max_size=40),
    st.floats(50.0, 2_000.0) | st.sampled_from([1_000.0, 2_000.0]),
)
def test_pairs_near_finds_exactly_the_points_within_the_radius(
    query: list[tuple[float, float]], points: list[tuple[float, float]], radius: float
) -> None:
    """Points exactly at the radius are not near (strict), points without a position (NaN) never are; the
    k-d trees' candidates are decided by the exact test."""
    q, p = np.array(query), np.array(points)
    left, right = pairs_near(q, p, radius)
    brute = [
        (i, j)
        for i in range(len(q))
        for j in range(len(p))
        if float(((q[i] - p[j]) ** 2).sum()) < radius * radius
    ]
    assert list(zip(left.tolist(), right.tolist(), strict=True)) == brute
