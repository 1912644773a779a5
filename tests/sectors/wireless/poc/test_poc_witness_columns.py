"""The witness rules over columns (`witness_columns.process_witness_columns`) decide exactly what the
reference (`matching.process_witnesses`) decides: the same verdicts with the same evidence, and the same
beacon entries (`reported_by`, `witnesses`, `close`, in order), on simulated epochs whose witnesses are
mutated at random into every kind of malformed, misplaced, late, foreign and duplicated report."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import EpochWindow, SectorInput
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY
from opendepin.sectors.wireless.poc.matching import BeaconEntry, process_beacons, process_witnesses
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.reports import BEACON, WITNESS, WitnessPayload
from opendepin.sectors.wireless.poc.witness_columns import process_witness_columns
from opendepin.sectors.wireless.poc.witness_parse import FIELDS, find_plainly_valid
from opendepin.sectors.wireless.sim.behaviour import simulate_epoch
from opendepin.sectors.wireless.sim.links import build_radio_links
from opendepin.sectors.wireless.sim.propagation import RadioPhysics
from opendepin.sectors.wireless.sim.runner import EPOCH_SECONDS, GENESIS, build_registry
from opendepin.sectors.wireless.sim.scenarios import build_fleet

PARAMS = PocParams()
_EPOCHS: dict[tuple[str, int], SectorInput] = {}


def _epoch(scenario: str, seed: int) -> SectorInput:
    """A small simulated day (cached: hypothesis draws many mutations of a few epochs)."""
    if (scenario, seed) not in _EPOCHS:
        physics = RadioPhysics()
        fleet = build_fleet(scenario, 60, seed)
        rng = np.random.default_rng(seed + 1)
        links = build_radio_links(fleet, physics, rng)
        window = EpochWindow(0, GENESIS, GENESIS + EPOCH_SECONDS)
        log = simulate_epoch(fleet, links, window, physics, PARAMS, rng, seed, 0.5)
        _EPOCHS[(scenario, seed)] = SectorInput(
            window, build_registry(fleet), log.reports, {}, {ENTROPY_CONTEXT_KEY: log.entropies}
        )
    return _EPOCHS[(scenario, seed)]


def _mutate_payload(payload: dict[str, Any], rng: np.random.Generator, devices: list[str]) -> dict[str, Any]:
    """One random change: a field dropped, added, retyped, pushed out of range or made to disagree with
    its beacon (late, other data, frequency, region), or another beaconer."""
    changed = dict(payload)
    choice = int(rng.integers(0, 22))
    if choice == 0:
        changed.pop(str(rng.choice(sorted(changed))))
    elif choice == 1:
        changed["extra"] = 1
    elif choice == 2:
        changed["frequency_hz"] = str(changed["frequency_hz"])  # pydantic coerces it
    elif choice == 3:
        changed["frequency_hz"] = float(changed["frequency_hz"])  # an integral float: coerced too
    elif choice == 4:
        changed["rssi_dbm"] = round(changed["rssi_dbm"])  # an int where a float is declared
    elif choice == 5:
        changed["rssi_dbm"] = [math.nan, math.inf, 51.0, -201.0, True, "x"][int(rng.integers(0, 6))]
    elif choice == 6:
        changed["snr_db"] = [55.0, -51.0, None, "5"][int(rng.integers(0, 4))]
    elif choice == 7:
        changed["rx_ms"] = [-1, True, 2**70, "12"][int(rng.integers(0, 4))]
    elif choice == 8:
        changed["entropy"] = str(changed["entropy"]).upper()
    elif choice == 9:
        changed["data"] = "ab" * 65 if rng.random() < 0.5 else "a"
    elif choice == 10:
        changed["region"] = ["", "R" * 17, "EU868", "é" * 16][int(rng.integers(0, 4))]
    elif choice == 11:
        changed["beaconer"] = "" if rng.random() < 0.3 else str(rng.choice(devices))
    elif choice == 12:
        changed["rx_ms"] = int(changed["rx_ms"]) + int(rng.choice([1_600, 4_500, -10, 3_999]))
    elif choice == 13:
        changed["data"] = "ff" * 16
    elif choice == 14:
        changed["frequency_hz"] = int(changed["frequency_hz"]) + int(rng.choice([100_000, 100_001, -200_000]))
    elif choice == 15:
        changed["rssi_dbm"] = float(rng.choice([20.0, -20.0, -140.0]))
    elif choice == 16:
        changed["entropy"] = "ab" * 32
    elif choice == 17:
        changed["frequency_hz"] = 0
    elif choice == 18:
        changed["rx_ms"] = 1.5
    elif choice == 19:
        changed["beaconer"] = 7
    elif choice == 20:
        changed["snr_db"] = 3  # an int where a float is declared
    return changed


def _mutate(data: SectorInput, seed: int, share: float) -> tuple[list[ReportRecord], PocParams]:
    """The epoch's reports with a share of its witnesses mutated (payload, device, arrival, copies), some
    beacons sent "at" a time beyond int64, and params that deny some devices and edges."""
    rng = np.random.default_rng(seed)
    devices = sorted(data.devices)
    reports: list[ReportRecord] = []
    for report in data.reports:
        if report.kind == BEACON and rng.random() < share / 4:  # a transmit time beyond int64
            reports.append(replace(report, payload={**report.payload, "tx_ms": 2**70}))
            continue
        if report.kind != WITNESS or rng.random() >= share:
            reports.append(report)
            continue
        kind = int(rng.integers(0, 6))
        if kind <= 1:
            reports.append(replace(report, payload=_mutate_payload(dict(report.payload), rng, devices)))
        elif kind == 2:  # another (maybe unknown, maybe the beaconer itself) device claims it
            other = str(rng.choice([*devices, "ed25519:unknown", str(report.payload["beaconer"])]))
            reports.append(replace(report, device_id=other, report_id=report.report_id + "-d"))
        elif kind == 3:  # the same device witnesses twice: a copy received at another time
            reports.append(report)
            shift = int(rng.choice([-5, 0, 5]))
            reports.append(
                replace(report, report_id=report.report_id + "-c", received_at=report.received_at + shift)
            )
        elif kind == 4:  # arrival outside the entropy's lifespan
            reports.append(replace(report, received_at=report.received_at + int(rng.choice([181, -1, 400]))))
        else:  # a payload that is not a dict
            reports.append(replace(report, payload=tuple(report.payload.items())))  # type: ignore[arg-type]
    denied = [str(d) for d in rng.choice(devices, size=2, replace=False)]
    edges = [(str(a), str(b)) for a, b in rng.choice(devices, size=(3, 2))]
    params = PARAMS.model_copy(update={"denylist": denied, "denied_edges": edges})
    return reports, params


def _entries(beacons: dict[tuple[str, str], BeaconEntry]) -> list[Any]:
    return [
        (
            key,
            list(b.reported_by),
            [
                (w.report_id, w.device_id, w.received_at, w.rssi_dbm, w.rx_ms, w.distance_m)
                for w in b.witnesses
            ],
            [(w.report_id, w.device_id, w.received_at, w.rssi_dbm, w.rx_ms, w.distance_m) for w in b.close],
        )
        for key, b in sorted(beacons.items())
    ]


def _both(reports: list[ReportRecord], data: SectorInput, params: PocParams) -> tuple[Any, Any]:
    entropies = {str(k): int(v) for k, v in dict(data.context[ENTROPY_CONTEXT_KEY]).items()}
    beacon_reports = [r for r in reports if r.kind == BEACON]
    witness_reports = [r for r in reports if r.kind == WITNESS]
    results = []
    for process in (process_witnesses, process_witness_columns):
        _, beacons, cited, _ = process_beacons(beacon_reports, data.devices, entropies, {}, params)
        verdicts = process(witness_reports, data.devices, entropies, beacons, cited, params)
        results.append(({k: (v.reason, v.evidence) for k, v in verdicts.items()}, _entries(beacons)))
    return results[0], results[1]


def _types(value: Any) -> Any:
    """The value with every number tagged by its type (1 and 1.0 and True compare equal in Python)."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_types(v) for v in value]
    return (type(value).__name__, value)


def test_an_honest_epoch_gives_the_same_verdicts_and_entries() -> None:
    data = _epoch("honest", 3)
    reference, columns = _both(list(data.reports), data, PARAMS)
    assert sum(reason == "ok" for reason, _ in reference[0].values()) > 200
    assert _types(columns) == _types(reference)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    share=st.sampled_from([0.05, 0.3, 1.0]),
    scenario=st.sampled_from(["honest", "building", "hex-spoof", "faithful-ring"]),
)
def test_mutated_epochs_give_the_same_verdicts_and_entries(seed: int, share: float, scenario: str) -> None:
    data = _epoch(scenario, 5)
    reports, params = _mutate(data, seed, share)
    reference, columns = _both(reports, data, params)
    assert _types(columns) == _types(reference)
    assert {reason for reason, _ in reference[0].values()} - {"ok"}


def test_where_the_arrays_reject_what_the_reference_accepts_the_reference_decides(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Grid distances forced to 0 make the arrays call every witness too close; `check_witness` (which
    computes its own) finds most of them valid, and those are kept in receive order with its evidence."""
    import opendepin.sectors.wireless.poc.witness_columns as witness_columns

    data = _epoch("honest", 3)
    expected, _ = _both(list(data.reports), data, PARAMS)
    monkeypatch.setattr(witness_columns, "_grid_distance", lambda a, b: 0)
    _, columns = _both(list(data.reports), data, PARAMS)
    assert sum(reason == "ok" for reason, _ in columns[0].values()) > 200
    assert _types(columns) == _types(expected)


VALUES = st.one_of(
    st.text(max_size=20),
    st.text(alphabet="0123456789abcdefABCDEF\n", min_size=1, max_size=140),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["US915", "é" * 16, "é" * 17, "00", "0" * 129, "ab\n"]),
)


HEX = st.text(alphabet="0123456789abcdef", min_size=2, max_size=128)
NEARLY = {  # values the model accepts, and its edges
    "beaconer": st.text(min_size=1, max_size=10),
    "entropy": HEX,
    "data": HEX,
    "region": st.text(min_size=1, max_size=16),
    "frequency_hz": st.integers(1, 2**64),
    "rssi_dbm": st.one_of(st.floats(-200, 50), st.integers(-200, 50)),
    "snr_db": st.one_of(st.floats(-50, 50), st.integers(-50, 50)),
    "rx_ms": st.integers(0, 2**64),
}


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries({name: st.one_of(NEARLY[name], NEARLY[name], VALUES) for name in FIELDS}),
        min_size=1,
        max_size=6,
    )
)
def test_a_plainly_valid_payload_is_one_pydantic_accepts_unchanged(rows: list[dict[str, Any]]) -> None:
    """Soundness of the column checks: whatever they pass, `WitnessPayload` accepts with the same values
    (ints as floats where a float is declared); what they do not pass goes to pydantic anyway."""
    columns = [[row[name] for row in rows] for name in FIELDS]
    for row, plain in zip(rows, find_plainly_valid(columns).tolist(), strict=True):
        if plain:
            payload = WitnessPayload.model_validate(row)
            assert [getattr(payload, name) for name in FIELDS] == [row[name] for name in FIELDS]
            assert all(type(getattr(payload, n)) is float for n in ("rssi_dbm", "snr_db"))


@pytest.mark.parametrize("case", ["unknown devices", "all too late"])
def test_epochs_where_no_witness_passes_give_the_same_verdicts(case: str) -> None:
    """No witness past the device checks, or none past the report checks: nothing to record, and the
    verdicts are the reference's."""
    data = _epoch("honest", 3)
    reports = [
        (
            r
            if r.kind != WITNESS
            else replace(r, device_id="ed25519:nobody")
            if case == "unknown devices"
            else replace(r, payload={**r.payload, "rx_ms": int(r.payload["rx_ms"]) + 10_000})
        )
        for r in data.reports
    ]
    reference, columns = _both(reports, data, PARAMS)
    assert _types(columns) == _types(reference)
    assert not any(reason == "ok" for reason, _ in reference[0].values())


def test_payload_columns_judge_each_shape_as_the_payload_model_does() -> None:
    """All plain dicts with the model's fields: read a column at once; one of the right size with a foreign
    key, a list, or a dict subclass: each judged row by row."""
    from opendepin.sectors.wireless.poc.witness_parse import FIELDS, _field_columns

    good = {name: index for index, name in enumerate(FIELDS)}
    shaped, columns = _field_columns([good, dict(good)])
    assert shaped.tolist() == [True, True] and columns == [[i, i] for i in range(len(FIELDS))]
    foreign = {**{name: 0 for name in FIELDS[1:]}, "extra": 1}

    class Sub(dict):  # type: ignore[type-arg]
        pass

    for odd in (foreign, list(good), Sub(good), "payload", None):
        shaped, columns = _field_columns([good, odd, good])
        assert shaped.tolist() == [True, False, True]
        assert [column[1] for column in columns] == [None] * len(FIELDS)
        assert [column[2] for column in columns] == list(range(len(FIELDS)))
