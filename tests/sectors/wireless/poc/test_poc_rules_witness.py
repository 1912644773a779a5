"""Witness checks of Helium's published rules at their thresholds: just inside passes, just outside fails."""

from __future__ import annotations

import h3
import pytest

from opendepin.sectors.base import OK
from opendepin.sectors.wireless.poc.geo import compute_cell_distance, compute_distance_m, get_cell_center
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rules_witness import (
    check_witness,
    check_witness_device,
    compute_fspl_db,
    compute_max_rssi_dbm,
    is_rssi_plausible,
)
from tests.sectors.wireless.poc.helpers import (
    FREQ,
    T0,
    beacon_payload,
    cell_at,
    context,
    device,
    entropy_at,
    witness_payload,
)

PARAMS = PocParams()
BEACONER = device("b", cell_at(0))
FAR = device("w", cell_at(3_000))


def _check(witness=FAR, first_rx_ms: int | None = None, **changes: object) -> tuple[str, dict]:
    beacon = beacon_payload()
    payload = witness_payload(beacon, **changes)
    return check_witness(
        payload, T0 + 5, entropy_at(T0)[1], witness, context(BEACONER, beacon, first_rx_ms), PARAMS
    )


def _cell_at_grid_distance(k: int) -> str:
    base = h3.cell_to_parent(BEACONER.location, 11)
    return h3.cell_to_center_child(sorted(h3.grid_ring(base, k))[0], 12)


def test_valid_witness_carries_its_numbers() -> None:
    reason, evidence = _check()
    assert reason == OK
    assert {"distance_m", "cell_distance", "rssi_dbm", "max_rssi_dbm", "fspl_db", "lag_ms"} <= set(evidence)
    assert evidence["distance_m"] == pytest.approx(3_000, abs=20)


def test_device_checks_each_with_a_reason() -> None:
    devices = {"b": BEACONER, "w": FAR, "x": device("x", None)}
    assert check_witness_device("w", "b", devices, PARAMS)[0] == OK
    assert check_witness_device("ghost", "b", devices, PARAMS)[0] == "witness.unknown_gateway"
    assert check_witness_device("x", "b", devices, PARAMS)[0] == "witness.location_not_asserted"
    assert check_witness_device("b", "b", devices, PARAMS)[0] == "witness.self_witness"
    denied = PARAMS.model_copy(update={"denylist": ["w"]})
    assert check_witness_device("w", "b", devices, denied)[0] == "witness.denylisted"
    edge = PARAMS.model_copy(update={"denied_edges": [("b", "w")]})
    assert check_witness_device("w", "b", devices, edge)[0] == "witness.denied_edge"
    assert check_witness_device("b", "w", {**devices}, edge)[0] == OK


def test_invalid_entropy_expired() -> None:
    beacon = beacon_payload()
    payload = witness_payload(beacon)
    minute = entropy_at(T0)[1]
    ctx = context(BEACONER, beacon)
    assert check_witness(payload, minute + 180, minute, FAR, ctx, PARAMS)[0] == OK
    assert check_witness(payload, minute + 181, minute, FAR, ctx, PARAMS)[0] == "witness.entropy_expired"


def test_lag_just_inside_4000_ms() -> None:
    assert _check(rx_ms=T0 * 1000 + 4_000, first_rx_ms=T0 * 1000 + 3_000)[0] == OK


def test_invalid_lag_just_outside_4000_ms() -> None:
    reason, evidence = _check(rx_ms=T0 * 1000 + 4_001, first_rx_ms=T0 * 1000 + 3_000)
    assert reason == "witness.too_late"
    assert evidence["lag_ms"] == 4_001


def test_lag_after_first_witness_at_1500_ms() -> None:
    assert _check(rx_ms=T0 * 1000 + 1_600, first_rx_ms=T0 * 1000 + 100)[0] == OK
    reason, evidence = _check(rx_ms=T0 * 1000 + 1_601, first_rx_ms=T0 * 1000 + 100)
    assert reason == "witness.too_late"
    assert evidence["lag_after_first_ms"] == 1_501


def test_invalid_payload_differs_from_beacon() -> None:
    assert _check(data="ff" * 32)[0] == "witness.payload_mismatch"


def test_frequency_offset_at_100_khz() -> None:
    assert _check(frequency_hz=FREQ + 100_000)[0] == OK
    reason, evidence = _check(frequency_hz=FREQ - 100_001)
    assert reason == "witness.frequency_offset"
    assert evidence["offset_hz"] == -100_001


def test_invalid_different_region() -> None:
    assert _check(region="EU868")[0] == "witness.wrong_region"


def test_too_close_at_8_cells_of_resolution_11() -> None:
    inside, outside = _cell_at_grid_distance(8), _cell_at_grid_distance(7)
    assert compute_cell_distance(inside, BEACONER.location, 11) == 8
    assert _check(witness=device("w", inside), rssi_dbm=-90.0)[0] == OK
    reason, evidence = _check(witness=device("w", outside), rssi_dbm=-90.0)
    assert reason == "witness.too_close"
    assert evidence["cell_distance"] == 7


def test_too_far_at_100_km() -> None:
    near, far = cell_at(99_900), cell_at(100_100)
    assert compute_distance_m(get_cell_center(near), get_cell_center(BEACONER.location)) < 100_000
    assert _check(witness=device("w", near), rssi_dbm=-130.0)[0] == OK
    reason, evidence = _check(witness=device("w", far), rssi_dbm=-130.0)
    assert reason == "witness.too_far"
    assert evidence["distance_m"] > 100_000


def test_rssi_plausibility_at_the_free_space_bound() -> None:
    distance = compute_distance_m(get_cell_center(FAR.location), get_cell_center(BEACONER.location))
    bound = compute_max_rssi_dbm(27.0, 3.0, 3.0, compute_fspl_db(distance, FREQ))
    assert is_rssi_plausible(bound, bound)
    assert not is_rssi_plausible(bound + 0.01, bound)
    assert _check(rssi_dbm=round(bound - 0.01, 2))[0] == OK
    reason, evidence = _check(rssi_dbm=round(bound + 0.01, 2))
    assert reason == "witness.rssi_too_strong"
    assert evidence["max_rssi_dbm"] == pytest.approx(bound, abs=0.01)


def test_fspl_matches_the_formula() -> None:
    assert compute_fspl_db(1_000.0, 915e6) == pytest.approx(91.67, abs=0.01)
