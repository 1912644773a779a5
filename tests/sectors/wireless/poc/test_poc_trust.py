"""Detection beyond the rules, on small synthetic link tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.evidence import DeviceTable, LinkTable
from opendepin.sectors.wireless.poc.graph import (
    compute_community_flags,
    compute_components,
    compute_owner_group_flags,
)
from opendepin.sectors.wireless.poc.linkmodel import (
    compute_expected_rssi_dbm,
    compute_hear_probability,
    compute_range_m,
    normal_sf,
)
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trilateration import fit_positions
from opendepin.sectors.wireless.poc.trust import (
    compute_explained,
    compute_group_median,
    compute_owner_votes_of,
    compute_ramp,
    detect_common_site,
    group_owner_votes,
    judge_links,
)

TRUST = TrustParams()


def _devices(xy: list[tuple[float, float]], owners: list[int] | None = None) -> DeviceTable:
    n = len(xy)
    return DeviceTable(
        [f"d{i}" for i in range(n)],
        np.array(owners or list(range(n)), dtype=np.int64),
        np.array(xy, dtype=np.float64),
        np.full(n, 3.0),
        np.ones(n, dtype=bool),
    )


def _links(
    pairs: list[tuple[int, int]],
    xy: np.ndarray,
    rssi: list[float] | None = None,
    lag: list[float] | None = None,
) -> LinkTable:
    b = np.array([p[0] for p in pairs], dtype=np.int64)
    w = np.array([p[1] for p in pairs], dtype=np.int64)
    distance = np.sqrt(((xy[b] - xy[w]) ** 2).sum(axis=1))
    if rssi is None:
        expected = compute_expected_rssi_dbm(np.full(len(b), 27.0), np.full(len(b), 6.0), distance, TRUST)
        rssi_arr = expected
    else:
        rssi_arr = np.array(rssi)
    return LinkTable(
        np.arange(len(b)),
        b,
        w,
        rssi_arr,
        np.full(len(b), 27.0),
        distance,
        np.array(lag if lag is not None else [2.0] * len(b)),
    )


def test_normal_tail_matches_erfc() -> None:
    for z in (-3.0, -1.0, 0.0, 0.5, 2.0, 4.0):
        assert normal_sf(np.array([z]))[0] == pytest.approx(0.5 * math.erfc(z / math.sqrt(2)), abs=2e-7)


def test_range_inverts_the_hearing_probability() -> None:
    radius = compute_range_m(27.0, 6.0, 0.8, TRUST)
    expected = compute_expected_rssi_dbm(np.array([27.0]), np.array([6.0]), np.array([radius]), TRUST)
    assert compute_hear_probability(expected, TRUST)[0] == pytest.approx(0.8, abs=1e-6)


def test_ramp_clear_and_full_in_both_directions() -> None:
    values = np.array([0.0, 0.1, 0.2, 0.3, 0.5])
    assert compute_ramp(values, 0.1, 0.3).tolist() == pytest.approx([1.0, 1.0, 0.5, 0.0, 0.0])
    assert compute_ramp(values, 0.3, 0.1).tolist() == pytest.approx([0.0, 0.0, 0.5, 1.0, 1.0])


def test_group_median_per_device() -> None:
    num, den = compute_group_median(np.array([0, 0, 0, 2, 2]), np.array([5.0, 1.0, 3.0, 4.0, 2.0]), 3)
    assert (num / np.maximum(den, 1)).tolist() == [3.0, 0.0, 3.0]
    assert den.tolist() == [3.0, 0.0, 2.0]


def test_links_heard_late_are_relayed_and_impossible_distances_implausible() -> None:
    xy = np.array([(0.0, 0.0), (1_000.0, 0.0), (60_000.0, 0.0)])
    links = _links([(0, 1), (0, 2), (0, 1)], xy, rssi=[-100.0, -110.0, -100.0], lag=[2.0, 3.0, 101.0])
    judged = judge_links(links, _devices([tuple(p) for p in xy]), TRUST)
    assert judged.relayed.tolist() == [False, False, True]
    assert judged.implausible.tolist() == [False, True, False]
    assert judged.hear_probability[1] < TRUST.implausible_probability < judged.hear_probability[0]


def test_blame_goes_to_the_worse_end_and_ties_blame_nobody() -> None:
    xy = np.zeros((3, 2))
    links = _links([(0, 1), (1, 2)], xy)
    for_b, for_w = compute_explained(links, np.array([0.9, 0.1, 0.9]), clear=0.3)
    assert for_b.tolist() == [True, False] and for_w.tolist() == [False, True]
    for_b, for_w = compute_explained(links, np.array([0.9, 0.9, 0.1]), clear=0.3)
    assert for_b.tolist() == [False, True] and for_w.tolist() == [False, False]


def test_trilateration_finds_a_liar_and_clears_the_truthful() -> None:
    angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
    ring = [(3_000 * np.cos(a), 3_000 * np.sin(a)) for a in angles]
    honest = _devices([(0.0, 0.0), *ring])
    links = _links([(0, k) for k in range(1, 17)], honest.xy)
    fit = fit_positions(links, np.ones(links.size, dtype=bool), honest, TRUST)
    assert fit.offset_m[0] < 100 and fit.gain[0] < TRUST.geometry_clear_gain
    liar = _devices([(8_000.0, 0.0), *ring])
    fit = fit_positions(links, np.ones(links.size, dtype=bool), liar, TRUST)
    assert fit.offset_m[0] > 5_000 and fit.gain[0] > TRUST.geometry_full_gain


def test_components_and_closed_community_dominated_by_one_owner() -> None:
    left, right = np.array([0, 1, 2, 3, 4, 6]), np.array([1, 2, 3, 4, 5, 7])
    labels = compute_components(9, left, right)
    assert len(set(labels[:6].tolist())) == 1 and labels[6] == labels[7] != labels[0]
    owners = np.array([9, 9, 9, 9, 9, 1, 2, 3, 4])
    linked = np.array([True] * 8 + [False])
    flags, shares, sizes = compute_community_flags(
        labels,
        owners,
        linked,
        TRUST.model_copy(
            update={"community_min_size": 6, "community_owner_share": 0.9, "community_top_owners": 2}
        ),
    )
    assert flags.tolist() == [True] * 6 + [False] * 3
    assert sizes[0] == 6 and shares[0] == 1.0
    flags, _, _ = compute_community_flags(
        labels,
        owners,
        linked,
        TRUST.model_copy(
            update={"community_min_size": 6, "community_owner_share": 0.8, "community_top_owners": 1}
        ),
    )
    assert flags.tolist() == [True] * 5 + [False] * 4


def test_invalid_owner_group_needs_enough_hotspots_looking_inward() -> None:
    owners = np.array([0] * 8 + [1, 2])
    left = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8])
    right = np.array([1, 2, 3, 4, 5, 6, 7, 0, 9])
    flags, share, group = compute_owner_group_flags(owners, left, right, 3, TRUST)
    assert flags.tolist() == [True, False, False]
    assert share[0] == 1.0 and group[0] == 8
    flags, _, _ = compute_owner_group_flags(
        owners, left, right, 3, TRUST.model_copy(update={"owner_min_devices": 9})
    )
    assert not flags.any()


def _spread_owner_heard_from(real: list[tuple[float, float]]) -> tuple[DeviceTable, LinkTable]:
    """Owner 0 asserts four hotspots 4 km around the origin; 24 other owners on a 3 km ring hear each
    of them with the nominal RSSI of the hotspot's *real* position."""
    asserted = [(4_000.0, 0.0), (0.0, 4_000.0), (-4_000.0, 0.0), (0.0, -4_000.0)]
    angles = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = [(3_000 * np.cos(a), 3_000 * np.sin(a)) for a in angles]
    devices = _devices([*asserted, *ring], [0, 0, 0, 0, *range(1, 25)])
    pairs = [(h, w) for h in range(4) for w in range(4, 28)]
    where = np.array([*real, *ring])
    true_distance = np.array([np.hypot(*(where[b] - where[w])) for b, w in pairs])
    rssi = compute_expected_rssi_dbm(
        np.full(len(pairs), 27.0), np.full(len(pairs), 6.0), true_distance, TRUST
    )
    return devices, _links(pairs, devices.xy, rssi=rssi.tolist())


def test_common_site_clears_an_owner_whose_hotspots_stand_where_asserted() -> None:
    devices, links = _spread_owner_heard_from(
        [(4_000.0, 0.0), (0.0, 4_000.0), (-4_000.0, 0.0), (0.0, -4_000.0)]
    )
    found = detect_common_site(links, np.ones(links.size, dtype=bool), devices, TRUST, 25)
    assert found.factor.tolist() == [1.0] * 28
    assert found.value[0] < TRUST.common_site_clear_gain
    assert found.evidence["pooled_links"][0] == 96 and found.evidence["asserted_spread_m"][0] == 4_000.0


def test_invalid_common_site_spread_assertions_heard_from_one_building() -> None:
    devices, links = _spread_owner_heard_from([(0.0, 0.0)] * 4)
    found = detect_common_site(links, np.ones(links.size, dtype=bool), devices, TRUST, 25)
    assert found.factor[:4].tolist() == [0.0] * 4 and found.factor[4:].tolist() == [1.0] * 24
    assert found.value[0] > TRUST.common_site_full_gain
    assert found.evidence["site_to_asserted_m"][:4] == pytest.approx([4_000.0] * 4, abs=150.0)
    assert found.evidence["owner_hotspots_linked"][0] == 4
    sparse = TRUST.model_copy(update={"common_site_min_links": 97})
    assert detect_common_site(links, np.ones(links.size, dtype=bool), devices, sparse, 25).factor.min() == 1.0


def _owner_votes_by_sort(
    device: np.ndarray,
    counterpart_owner: np.ndarray,
    values: np.ndarray,
    n_devices: int,
    n_owners: int,
    robust: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The owner votes as written before the grouping: one sort of the (device, owner) keys per call."""
    if len(device) == 0:
        return np.zeros(n_devices), np.zeros(n_devices)
    unique, inverse = np.unique(device * n_owners + counterpart_owner, return_inverse=True)
    means = np.bincount(inverse, weights=values) / np.bincount(inverse)
    holder = unique // n_owners
    if robust:
        return compute_group_median(holder, means, n_devices)
    counts = np.bincount(holder, minlength=n_devices).astype(np.float64)
    return np.bincount(holder, weights=means, minlength=n_devices).astype(np.float64), counts


@settings(max_examples=200, deadline=None)
@given(
    links=st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 7), st.floats(-5, 5), st.booleans(), st.booleans())
    ),
    owners=st.lists(st.integers(0, 3), min_size=8, max_size=8),
    robust=st.booleans(),
)
def test_owner_votes_of_grouped_rows_equal_a_sort_per_call(
    links: list[tuple[int, int, float, bool, bool]], owners: list[int], robust: bool
) -> None:
    """The grouping made once gives the bits a sort per call gives, for every choice of ends."""
    devices = _devices([(0.0, 0.0)] * 8, owners)
    table = _links([(b, w) for b, w, *_ in links], devices.xy)
    values = np.array([v for _, _, v, _, _ in links], dtype=np.float64)
    for_b = np.array([fb for *_, fb, _ in links], dtype=bool)
    for_w = np.array([fw for *_, fw in links], dtype=bool)
    owner = devices.owner
    cross = owner[table.beaconer] != owner[table.witness]
    b_rows, w_rows = np.flatnonzero(cross & for_b), np.flatnonzero(cross & for_w)
    expected = _owner_votes_by_sort(
        np.concatenate([table.beaconer[b_rows], table.witness[w_rows]]),
        np.concatenate([owner[table.witness[b_rows]], owner[table.beaconer[w_rows]]]),
        np.concatenate([values[b_rows], values[w_rows]]),
        8,
        4,
        robust,
    )
    rows = group_owner_votes(table, devices, 4)
    got = compute_owner_votes_of(rows, for_b, for_w, values, 8, robust)
    assert got[0].tobytes() == expected[0].tobytes()
    assert got[1].tobytes() == expected[1].tobytes()


@settings(max_examples=60, deadline=None)
@given(
    xy=st.lists(st.tuples(st.floats(0, 5_000), st.floats(0, 5_000)), min_size=3, max_size=12),
    pairs=st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11), st.floats(-130, -60)), max_size=60),
    owners=st.lists(st.integers(0, 3), min_size=12, max_size=12),
    chosen=st.sets(st.integers(0, 11), min_size=1),
)
def test_fitting_some_devices_gives_their_bits_in_the_fit_of_every_device(
    xy: list[tuple[float, float]],
    pairs: list[tuple[int, int, float]],
    owners: list[int],
    chosen: set[int],
) -> None:
    n = len(xy)
    devices = _devices(xy, owners[:n])
    kept = [(b, w, r) for b, w, r in pairs if b < n and w < n and b != w]
    links = _links([(b, w) for b, w, _ in kept], devices.xy, rssi=[r for *_, r in kept])
    mask = np.ones(links.size, dtype=bool)
    rows = np.array(sorted(i for i in chosen if i < n) or [0], dtype=np.int64)
    whole = fit_positions(links, mask, devices, TRUST)
    part = fit_positions(links, mask, devices, TRUST, rows)
    for name in ("offset_m", "gain", "links", "position"):
        assert getattr(part, name).tobytes() == getattr(whole, name)[rows].tobytes(), name
