"""Beacon checks of Helium's published rules, each at its threshold: one passing, one invalid case."""

from __future__ import annotations

from opendepin.sectors.base import OK
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rules_beacon import (
    check_beacon,
    check_beacon_device,
    compute_beacon_bucket,
    is_beacon_payload_valid,
)
from tests.sectors.wireless.poc.helpers import T0, beacon_payload, cell_at, device, entropy_at

PARAMS = PocParams()


def _check(received_at: int = T0 + 2, entropy_ts: int | None = None, already: bool = False, **attrs: object):
    payload = beacon_payload()
    ts = entropy_at(T0)[1] if entropy_ts is None else entropy_ts
    return check_beacon(payload, received_at, ts, already, device("b", cell_at(0), **attrs), PARAMS)


def test_valid_beacon_passes_with_its_entropy_age() -> None:
    reason, evidence = _check()
    assert reason == OK
    assert evidence["entropy_age_s"] == T0 + 2 - entropy_at(T0)[1]


def test_invalid_unknown_gateway() -> None:
    assert check_beacon_device("ghost", {}, PARAMS)[0] == "beacon.unknown_gateway"


def test_invalid_location_not_asserted() -> None:
    assert check_beacon_device("b", {"b": device("b", None)}, PARAMS)[0] == "beacon.location_not_asserted"


def test_invalid_denylisted_and_valid_when_not() -> None:
    devices = {"b": device("b", cell_at(0))}
    assert check_beacon_device("b", devices, PARAMS)[0] == OK
    assert (
        check_beacon_device("b", devices, PARAMS.model_copy(update={"denylist": ["b"]}))[0]
        == "beacon.denylisted"
    )


def test_entropy_just_inside_lifespan() -> None:
    minute = entropy_at(T0)[1]
    assert _check(received_at=minute + 180)[0] == OK


def test_invalid_entropy_just_outside_lifespan() -> None:
    minute = entropy_at(T0)[1]
    reason, evidence = _check(received_at=minute + 181)
    assert reason == "beacon.entropy_expired"
    assert evidence == {"entropy_age_s": 181, "lifespan_s": 180}


def test_invalid_entropy_never_served() -> None:
    payload = beacon_payload()
    reason, _ = check_beacon(payload, T0, None, False, device("b", cell_at(0)), PARAMS)
    assert reason == "beacon.entropy_unknown"


def test_invalid_not_a_full_hotspot() -> None:
    reason, evidence = _check(mode="data_only")
    assert reason == "beacon.not_full_hotspot"
    assert evidence["mode"] == "data_only"


def test_invalid_second_beacon_in_the_same_bucket() -> None:
    reason, evidence = _check(already=True)
    assert reason == "beacon.too_frequent"
    assert evidence["interval_s"] == 21_600


def test_bucket_boundary() -> None:
    assert compute_beacon_bucket(21_599, 21_600) == 0
    assert compute_beacon_bucket(21_600, 21_600) == 1


def test_invalid_payload_mismatch() -> None:
    good = beacon_payload()
    bad = beacon_payload(data="00" * 32)
    assert is_beacon_payload_valid(good)
    assert not is_beacon_payload_valid(bad)
    reason, _ = check_beacon(bad, T0 + 2, entropy_at(T0)[1], False, device("b", cell_at(0)), PARAMS)
    assert reason == "beacon.payload_mismatch"


def test_invalid_unknown_region() -> None:
    payload = beacon_payload(region="XX999")
    reason, _ = check_beacon(payload, T0 + 2, entropy_at(T0)[1], False, device("b", cell_at(0)), PARAMS)
    assert reason == "beacon.unknown_region"
