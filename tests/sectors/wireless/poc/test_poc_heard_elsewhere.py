"""A radio is where the outsiders hear it from (`trust.heard_elsewhere`): one radio's assertion against the
spot the position fit proposes, judged only by what other radios made of its beacons. Small inputs with
known answers (a racked radio asserting 2.5 km away inside honest coverage caught, a radio at its
assertion not), and properties: the gain is never negative, owners and the radio's own witness reports
never change it, a spot at the assertion gains nothing."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.sectors.wireless.poc.colocation import locate_against_spots
from opendepin.sectors.wireless.poc.evidence import LinkTable
from opendepin.sectors.wireless.poc.params import TrustParams
from opendepin.sectors.wireless.poc.trilateration import PositionFit
from opendepin.sectors.wireless.poc.trust import detect_heard_elsewhere, drop_testimony

from .test_poc_displaced import OUTSIDERS, _epoch

TRUST = TrustParams()


def _fit(n: int, spot: tuple[float, float], asserted: tuple[float, float], links: int) -> PositionFit:
    position = np.zeros((n, 2))
    position[0] = spot
    offset = np.zeros(n)
    offset[0] = float(np.hypot(spot[0] - asserted[0], spot[1] - asserted[1]))
    counts = np.zeros(n, dtype=np.int64)
    counts[0] = links
    return PositionFit(offset, np.zeros(n), counts, position)


def _first(n: int) -> np.ndarray:
    candidate = np.zeros(n, dtype=bool)
    candidate[0] = True
    return candidate


def test_a_racked_radio_asserting_kilometres_away_is_judged_by_the_outsiders() -> None:
    links, devices, beacons = _epoch([(0.0, 0.0)], [(0.0, 2_500.0)])
    usable = np.ones(links.size, dtype=bool)
    gain, pooled, _ = locate_against_spots(
        links, usable, devices, _first(devices.size), np.zeros((devices.size, 2)), TRUST, beacons
    )
    assert gain[0] > TRUST.heard_elsewhere_clear_gain  # ten outsiders, six of them hear it
    assert pooled[0] == links.size
    assert gain[1:].tolist() == [0.0] * (devices.size - 1)
    fit = _fit(devices.size, (0.0, 0.0), (0.0, 2_500.0), links.size)
    output = detect_heard_elsewhere(links, usable, devices, fit, TRUST, beacons)
    assert output.name == "heard_elsewhere"
    clear, full = TRUST.heard_elsewhere_clear_gain, TRUST.heard_elsewhere_full_gain
    assert output.factor[0] == min(1.0, max(0.0, (full - gain[0]) / (full - clear)))
    assert output.factor[0] < 1.0
    assert output.factor[1:].tolist() == [1.0] * (devices.size - 1)
    assert output.evidence["to_fitted_spot_m"][0] == 2_500.0


def test_a_radio_at_its_assertion_is_not_judged_whatever_spot_is_proposed() -> None:
    links, devices, beacons = _epoch([(0.0, 0.0)], [(0.0, 0.0)])
    usable = np.ones(links.size, dtype=bool)
    fit = _fit(devices.size, (0.0, 2_500.0), (0.0, 0.0), links.size)
    output = detect_heard_elsewhere(links, usable, devices, fit, TRUST, beacons)
    assert output.value[0] == 0.0 and output.factor[0] == 1.0


def test_a_fit_within_the_minimum_offset_or_on_too_few_links_is_not_judged() -> None:
    links, devices, beacons = _epoch([(0.0, 0.0)], [(0.0, 2_500.0)])
    usable = np.ones(links.size, dtype=bool)
    few = _fit(devices.size, (0.0, 0.0), (0.0, 2_500.0), TRUST.geometry_min_links - 1)
    assert detect_heard_elsewhere(links, usable, devices, few, TRUST, beacons).factor[0] == 1.0
    near = _fit(devices.size, (0.0, 0.0), (0.0, 2_500.0), links.size)
    near.offset_m[0] = TRUST.geometry_min_offset_m - 1.0
    assert detect_heard_elsewhere(links, usable, devices, near, TRUST, beacons).factor[0] == 1.0


def _with_own_reports(links: LinkTable, rssi: list[float]) -> LinkTable:
    """The links plus witness reports by device 0 of the outsiders' beacons (whatever RSSI it likes)."""
    k = len(rssi)
    witness_of = np.arange(1, k + 1, dtype=np.int64)
    return LinkTable(
        np.concatenate([links.beacon, 1_000 + witness_of]),
        np.concatenate([links.beaconer, witness_of]),
        np.concatenate([links.witness, np.zeros(k, dtype=np.int64)]),
        np.concatenate([links.rssi_dbm, np.array(rssi)]),
        np.concatenate([links.tx_power_dbm, np.full(k, 27.0)]),
        np.concatenate([links.distance_m, np.full(k, 500.0)]),
        np.concatenate([links.lag_ms, np.zeros(k)]),
    )


@settings(max_examples=40, deadline=None)
@given(
    real=st.tuples(st.floats(-1_500.0, 1_500.0), st.floats(-1_500.0, 1_500.0)),
    asserted=st.tuples(st.floats(-3_000.0, 3_000.0), st.floats(-3_000.0, 3_000.0)),
    spot=st.tuples(st.floats(-3_000.0, 3_000.0), st.floats(-3_000.0, 3_000.0)),
    owners=st.lists(st.integers(0, 3), min_size=len(OUTSIDERS) + 1, max_size=len(OUTSIDERS) + 1),
    own_rssi=st.lists(st.floats(-130.0, -40.0), min_size=0, max_size=len(OUTSIDERS)),
)
def test_gain_is_the_outsiders_likelihood_ratio_and_nothing_else(
    real: tuple[float, float],
    asserted: tuple[float, float],
    spot: tuple[float, float],
    owners: list[int],
    own_rssi: list[float],
) -> None:
    links, devices, beacons = _epoch([real], [asserted])
    n = devices.size
    usable = np.ones(links.size, dtype=bool)
    spots = np.zeros((n, 2))
    spots[0] = spot
    gain, pooled, _ = locate_against_spots(links, usable, devices, _first(n), spots, TRUST, beacons)
    assert gain[0] >= 0.0 and gain[1:].tolist() == [0.0] * (n - 1)
    # Wallets never decide: any owners give the same gain.
    renamed = type(devices)(
        devices.ids, np.array(owners, dtype=np.int64), devices.xy, devices.gain_dbi, devices.eligible
    )
    again, _, _ = locate_against_spots(links, usable, renamed, _first(n), spots, TRUST, beacons)
    assert again.tolist() == gain.tolist()
    # The radio's own witness reports never argue for (or against) it.
    mine = _with_own_reports(links, own_rssi)
    ours, ours_pooled, _ = locate_against_spots(
        mine, np.ones(mine.size, dtype=bool), devices, _first(n), spots, TRUST, beacons
    )
    assert ours[0] == gain[0] and ours_pooled[0] == pooled[0]
    # A spot at the assertion is no alternative.
    spots[0] = asserted
    same, _, _ = locate_against_spots(links, usable, devices, _first(n), spots, TRUST, beacons)
    assert same[0] == 0.0


@settings(max_examples=40, deadline=None)
@given(dropped=st.lists(st.booleans(), min_size=len(OUTSIDERS) + 1, max_size=len(OUTSIDERS) + 1))
def test_a_discredited_radio_testifies_about_nobody_but_is_still_heard(dropped: list[bool]) -> None:
    """`drop_testimony`: the links a discredited radio witnessed, its reports and its silence leave the
    evidence; receptions of its own beacons stay."""
    links, devices, beacons = _epoch([(0.0, 0.0)], [(0.0, 2_500.0)])
    mine = _with_own_reports(links, [-100.0] * len(OUTSIDERS))
    discredited = np.array(dropped)
    usable = np.ones(mine.size, dtype=bool)
    mask, kept, thinned = drop_testimony(mine, usable, devices, beacons, discredited)
    assert mask.tolist() == (~discredited[mine.witness]).tolist()
    assert kept.eligible.tolist() == (devices.eligible & ~discredited).tolist()
    assert thinned is not None
    n = devices.size
    assert thinned.reported_pairs.tolist() == [
        p for p in beacons.reported_pairs.tolist() if not discredited[p % n]
    ]
    assert kept.ids == devices.ids and kept.xy.tolist() == devices.xy.tolist()


def test_dropping_nobody_changes_nothing() -> None:
    links, devices, beacons = _epoch([(0.0, 0.0)], [(0.0, 2_500.0)])
    usable = np.ones(links.size, dtype=bool)
    fit = _fit(devices.size, (0.0, 0.0), (0.0, 2_500.0), links.size)
    nobody = np.zeros(devices.size, dtype=bool)
    mask, kept, thinned = drop_testimony(links, usable, devices, beacons, nobody)
    assert mask.tolist() == usable.tolist() and thinned is not None
    assert thinned.reported_pairs.tolist() == beacons.reported_pairs.tolist()
    once = detect_heard_elsewhere(links, usable, devices, fit, TRUST, beacons)
    again = detect_heard_elsewhere(links, mask, kept, fit, TRUST, thinned)
    assert once.value.tolist() == again.value.tolist()
