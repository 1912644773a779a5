"""Explaining away until it settles (`trust.judge_heard_elsewhere`): radios racked at one site inside honest
coverage, asserting spots kilometres around it, one per wallet, forging their mutual receptions faithfully
at the asserted distances. Their testimony keeps one another's fits near their assertions and frames their
honest neighbours; round by round their testimony is dropped and their site passed on, until the rack is
judged and no honest radio is. Small exact epochs (the model's median RSSI, no shadowing), the rules
behind it (`compute_site_spots`, `find_refit_rows`), and the incremental rounds against computing
everything every round."""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import opendepin.sectors.wireless.poc.trust as trust_module
from opendepin.sectors.wireless.poc.evidence import BeaconTable, DeviceTable, LinkTable
from opendepin.sectors.wireless.poc.linkmodel import compute_expected_rssi_dbm
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trilateration import fit_positions
from opendepin.sectors.wireless.poc.trust import (
    compute_site_spots,
    detect_heard_elsewhere,
    find_refit_rows,
    find_touched,
    judge_heard_elsewhere,
)

TRUST = TrustParams()
GAIN = 1.2
SITE = (0.0, 0.0)


def _model_rssi(distance_m: float) -> float:
    return float(
        compute_expected_rssi_dbm(np.full(1, 27.0), np.full(1, 2 * GAIN), np.full(1, distance_m), TRUST)[0]
    )


def _grid(spacing_m: float = 2_000.0, half: int = 3) -> list[tuple[float, float]]:
    """Honest radios on a square grid around the site, none on it."""
    return [
        (spacing_m * i + 500.0, spacing_m * j + 300.0)
        for i in range(-half, half + 1)
        for j in range(-half, half + 1)
    ]


def _rack(count: int, near_m: float = 2_000.0, far_m: float = 4_000.0) -> list[tuple[float, float]]:
    """Assertions of `count` racked radios: spots `near_m`–`far_m` around the site, in every direction."""
    angles = np.arange(count) * (2 * np.pi / max(count, 1))
    radii = near_m + (far_m - near_m) * (np.arange(count) % 3) / 2
    return [(float(r * np.cos(a)), float(r * np.sin(a))) for a, r in zip(angles, radii, strict=True)]


def _epoch(
    racked: int, honest: list[tuple[float, float]], near_m: float = 2_000.0, far_m: float = 4_000.0
) -> tuple[LinkTable, DeviceTable, BeaconTable]:
    """Racked radios first (standing at the site, asserting `_rack`), then the honest ones (standing where
    they assert). Every radio beacons once; every radio that hears a beacon at the model's median reports
    it with that RSSI, except that racked radios report one another at the median of their *asserted*
    distance (faithful forgery; kept when that reaches the sensitivity)."""
    asserted = _rack(racked, near_m, far_m) + honest
    real = [SITE] * racked + honest
    n = len(asserted)
    xy, xy_real = np.array(asserted), np.array(real)
    beaconer, witness, rssi = [], [], []
    for b in range(n):
        for w in range(n):
            if b == w:
                continue
            both_racked = b < racked and w < racked
            distance = float(
                np.hypot(*((xy if both_racked else xy_real)[b] - (xy if both_racked else xy_real)[w]))
            )
            level = _model_rssi(max(distance, 1.0))
            if level >= TRUST.sensitivity_dbm:
                beaconer.append(b)
                witness.append(w)
                rssi.append(level)
    b_arr, w_arr = np.array(beaconer, dtype=np.int64), np.array(witness, dtype=np.int64)
    links = LinkTable(
        b_arr,
        b_arr,
        w_arr,
        np.array(rssi),
        np.full(len(b_arr), 27.0),
        np.hypot(*(xy[b_arr] - xy[w_arr]).T),
        np.zeros(len(b_arr)),
    )
    devices = DeviceTable(
        [f"d{i}" for i in range(n)],
        np.arange(n, dtype=np.int64),
        xy,
        np.full(n, GAIN),
        np.ones(n, dtype=bool),
    )
    beacons = BeaconTable(np.arange(n, dtype=np.int64), np.full(n, 27.0), b_arr * n + w_arr)
    return links, devices, beacons


def _judge(
    links: LinkTable, devices: DeviceTable, beacons: BeaconTable, trust: TrustParams = TRUST
) -> trust_module.ElsewhereJudgement:
    usable = np.ones(links.size, dtype=bool)
    fit = fit_positions(links, usable, devices, trust)
    return judge_heard_elsewhere(links, usable, devices, fit, trust, beacons)


RACKED = 60


@cache
def _racked_epoch() -> tuple[LinkTable, DeviceTable, BeaconTable]:
    """60 radios racked at the site asserting 1.05–1.25 km around it (so that their faithful receptions
    of one another are many), among honest radios 350 m apart: the rack's testimony keeps most of its
    fits within a kilometre of their assertions."""
    return _epoch(RACKED, _grid(350.0, 7), 1_050.0, 1_250.0)


def test_a_rack_split_over_wallets_is_judged_and_its_honest_neighbours_are_not() -> None:
    links, devices, beacons = _racked_epoch()
    judged = _judge(links, devices, beacons)
    rack, honest = slice(0, RACKED), slice(RACKED, devices.size)
    applies = judged.candidate & (judged.pooled >= TRUST.geometry_min_links)
    caught = applies[rack] & (judged.gain[rack] >= TRUST.heard_elsewhere_full_gain)
    assert caught.sum() >= 45
    assert (judged.gain[honest] < TRUST.heard_elsewhere_clear_gain).all()
    usable = np.ones(links.size, dtype=bool)
    output = detect_heard_elsewhere(
        links, usable, devices, fit_positions(links, usable, devices, TRUST), TRUST, beacons
    )
    assert output.factor[rack][caught].tolist() == [0.0] * int(caught.sum())
    assert output.factor[honest].tolist() == [1.0] * (devices.size - RACKED)
    assert output.evidence["rounds"][0] == judged.rounds


def test_the_rounds_judge_what_one_round_of_explaining_away_leaves() -> None:
    """On all the testimony the rack's fits stay near its assertions (3 of 60 judged); one re-judgement
    without the testimony of the radios heard elsewhere, at their site (the former two-pass rule, plus the
    site), judges 39; the rounds until the verdicts settle, more."""
    links, devices, beacons = _racked_epoch()
    full = TRUST.heard_elsewhere_full_gain
    first = _judge(links, devices, beacons, TRUST.model_copy(update={"heard_elsewhere_rounds": 1}))
    settled = _judge(links, devices, beacons)
    assert first.rounds == 2 and settled.rounds > first.rounds
    assert (settled.gain[:RACKED] >= full).sum() > (first.gain[:RACKED] >= full).sum()


def test_an_honest_network_takes_the_two_passes_and_nobody_is_judged() -> None:
    """Nobody judged heard elsewhere after the re-judgement: the rounds stop there."""
    links, devices, beacons = _epoch(0, _grid(350.0, 7))
    judged = _judge(links, devices, beacons)
    assert judged.rounds == 2
    assert judged.gain.tolist() == [0.0] * devices.size
    assert not judged.dropped.any()


def test_the_incremental_rounds_give_the_bits_of_computing_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    links, devices, beacons = _racked_epoch()
    incremental = _judge(links, devices, beacons)
    everything = np.ones(devices.size, dtype=bool)
    monkeypatch.setattr(trust_module, "find_touched", lambda *args: everything)
    monkeypatch.setattr(
        trust_module,
        "find_refit_rows",
        lambda links, mask, flipped: (
            np.arange(devices.size) if flipped.any() else np.zeros(0, dtype=np.int64)
        ),
    )
    full = _judge(links, devices, beacons)
    assert incremental.rounds == full.rounds > 2
    assert incremental.gain.tobytes() == full.gain.tobytes()
    assert incremental.pooled.tolist() == full.pooled.tolist()
    assert incremental.dropped.tolist() == full.dropped.tolist()


def _links(pairs: list[tuple[int, int]]) -> LinkTable:
    k = len(pairs)
    beaconer = np.array([b for b, _ in pairs], dtype=np.int64)
    return LinkTable(
        np.arange(k, dtype=np.int64),
        beaconer,
        np.array([w for _, w in pairs], dtype=np.int64),
        np.full(k, -100.0),
        np.full(k, 27.0),
        np.full(k, 1_000.0),
        np.zeros(k),
    )


def test_a_radio_is_offered_the_median_of_its_judged_neighbours_spots() -> None:
    """Radios 0–3 judged heard elsewhere, at their spots; 4 linked to all of them (either direction), 5 to
    radio 0 alone, 6 to nobody judged, 7 only through a link the mask leaves out."""
    xy = np.array([(float(k) * 1_000.0, 0.0) for k in range(8)])
    spots = xy.copy()
    spots[:4] = [(10.0, -20.0), (30.0, 40.0), (-50.0, 0.0), (0.0, 15.0)]
    sources = np.array([True] * 4 + [False] * 4)
    links = _links([(0, 4), (4, 1), (2, 4), (4, 3), (0, 5), (6, 5), (1, 0), (3, 7)])
    mask = np.array([True] * 7 + [False])
    site = compute_site_spots(links, mask, xy, sources, spots)
    assert site[4].tolist() == [(0.0 + 10.0) / 2, (0.0 + 15.0) / 2]
    assert site[5].tolist() == [10.0, -20.0]
    assert site[6].tolist() == xy[6].tolist() and site[7].tolist() == xy[7].tolist()
    # A judged radio is offered the others' spots, never its own.
    assert site[0].tolist() == [30.0, 40.0] and site[1].tolist() == [10.0, -20.0]


@settings(max_examples=40, deadline=None)
@given(
    points=st.lists(
        st.tuples(st.floats(-5_000.0, 5_000.0), st.floats(-5_000.0, 5_000.0)), min_size=2, max_size=9
    ),
    judged=st.lists(st.booleans(), min_size=9, max_size=9),
    order=st.permutations(list(range(9))),
)
def test_the_site_is_a_median_whatever_the_order_of_the_devices(
    points: list[tuple[float, float]], judged: list[bool], order: list[int]
) -> None:
    """Device 0 is linked to every other device; its site is the coordinate-wise median of the judged
    ones' spots (its assertion without any), whatever their indices."""
    n = len(points) + 1
    xy = np.array([(0.0, 0.0), *points])
    sources = np.array([False, *judged[: n - 1]])
    others = np.arange(1, n, dtype=np.int64)
    links = LinkTable(
        others,
        others,
        np.zeros(n - 1, dtype=np.int64),
        np.full(n - 1, -100.0),
        np.full(n - 1, 27.0),
        np.full(n - 1, 1_000.0),
        np.zeros(n - 1),
    )
    site = compute_site_spots(links, np.ones(n - 1, dtype=bool), xy, sources, xy)
    chosen = xy[sources]
    if len(chosen) == 0:
        assert site[0].tolist() == [0.0, 0.0]
    else:
        assert site[0].tolist() == [float(np.median(chosen[:, 0])), float(np.median(chosen[:, 1]))]
    # Renumber devices 1.. by `order`: device 0's site stays the same.
    perm = np.array([0, *[1 + k for k in order if k < n - 1]], dtype=np.int64)
    inverse = np.argsort(perm)
    renumbered = LinkTable(
        inverse[others],
        inverse[others],
        np.zeros(n - 1, dtype=np.int64),
        links.rssi_dbm,
        links.tx_power_dbm,
        links.distance_m,
        links.lag_ms,
    )
    again = compute_site_spots(renumbered, np.ones(n - 1, dtype=bool), xy[perm], sources[perm], xy[perm])
    assert again[0].tolist() == site[0].tolist()


def test_refit_rows_are_both_ends_of_the_links_a_flipped_radio_witnessed() -> None:
    links = LinkTable(
        np.arange(4, dtype=np.int64),
        np.array([0, 1, 2, 3], dtype=np.int64),
        np.array([1, 2, 3, 0], dtype=np.int64),
        np.full(4, -100.0),
        np.full(4, 27.0),
        np.full(4, 1_000.0),
        np.zeros(4),
    )
    flipped = np.array([False, False, True, False, False])
    assert find_refit_rows(links, np.ones(4, dtype=bool), flipped).tolist() == [1, 2]
    masked = np.array([True, False, True, True])
    assert find_refit_rows(links, masked, flipped).tolist() == []
    assert find_refit_rows(links, np.ones(4, dtype=bool), np.zeros(5, dtype=bool)).tolist() == []


def test_touched_are_the_devices_a_flipped_radio_could_testify_about() -> None:
    """Within the outsider radius of any of a device's points, or a reporter of its beacons."""
    xy = np.array([(0.0, 0.0), (5_000.0, 0.0), (20_000.0, 0.0), (40_000.0, 0.0)])
    spots = xy.copy()
    spots[3] = (21_000.0, 0.0)
    links = _links([(1, 2)])
    beacons = BeaconTable(
        np.array([0], dtype=np.int64), np.full(1, 27.0), np.array([0 * 4 + 2], dtype=np.int64)
    )
    flipped = np.array([False, False, True, False])
    touched = find_touched([xy, spots], flipped, 6_000.0, links, beacons, xy)
    # 2 itself (distance 0), 3 by its spot 1 km away, 1 whose beacon 2 witnessed, 0 whose beacon 2 reported.
    assert touched.tolist() == [True, True, True, True]
    assert find_touched([xy], flipped, 6_000.0, _links([]), None, xy).tolist() == [False, False, True, False]
    nobody = np.zeros(4, dtype=bool)
    assert not find_touched([xy, spots], nobody, 6_000.0, links, beacons, xy).any()


def test_an_epoch_without_located_devices_reads_no_outsiders() -> None:
    """Beacons but no located device (the rules kept nothing to fit): a finite radius, no crash."""
    from opendepin.sectors.wireless.poc.colocation import compute_outsider_radius_m

    empty = DeviceTable(
        [], np.zeros(0, dtype=np.int64), np.zeros((0, 2)), np.zeros(0), np.zeros(0, dtype=bool)
    )
    beacons = BeaconTable(np.array([0]), np.array([27.0]), np.zeros(0, dtype=np.int64))
    assert np.isfinite(compute_outsider_radius_m(empty, beacons, TRUST))
