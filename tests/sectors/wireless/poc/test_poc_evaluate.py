"""evaluate_poc end to end on small exact epochs: verdicts, units, breakdowns, state, determinism."""

from __future__ import annotations

import json
import math
from fractions import Fraction

from opendepin.sectors.base import UNIT_SCALE, EpochWindow, SectorInput
from opendepin.sectors.wireless.poc.evaluate import ENTROPY_CONTEXT_KEY, evaluate_poc
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.poc.rewards_hip15 import compute_beacon_unit, compute_witness_unit
from tests.sectors.wireless.poc.helpers import (
    BEACON,
    T0,
    WITNESS,
    beacon_payload,
    cell_at,
    device,
    entropy_at,
    record,
    witness_payload,
)

PARAMS = PocParams()
WINDOW = EpochWindow(0, T0 - 3_600, T0 - 3_600 + 86_400)


def _epoch(
    witnesses: int, rssi: float = -95.0, extra: list | None = None, prior: dict | None = None
) -> SectorInput:
    """Hotspots `b` and w0..w{n-1} on a 2.5 km circle; b beacons and every w witnesses it; each w beacons
    later and b witnesses it (so that everyone is reciprocal, HIP-106)."""
    devices = {"b": device("b", cell_at(0))}
    beacon = beacon_payload()
    reports = [record("beacon-b", BEACON, "b", T0 + 2, beacon)]
    entropies = dict([entropy_at(T0)])
    for k in range(witnesses):
        angle = 2 * math.pi * k / max(witnesses, 1)
        devices[f"w{k}"] = device(f"w{k}", cell_at(2_500 * math.cos(angle), 2_500 * math.sin(angle)))
        payload = witness_payload(beacon, rssi_dbm=rssi, rx_ms=beacon.tx_ms + 2 + k)
        reports.append(record(f"wit-{k}", WITNESS, f"w{k}", T0 + 5, payload))
        at = T0 + 600 * (k + 1)
        own = beacon_payload(ts=at, local=f"{k + 1:016x}")
        entropies.update(dict([entropy_at(at)]))
        reports.append(record(f"beacon-w{k}", BEACON, f"w{k}", at + 2, own))
        reports.append(
            record(f"wit-b{k}", WITNESS, "b", at + 5, witness_payload(own, beaconer=f"w{k}", rssi_dbm=rssi))
        )
    reports.extend(extra or [])
    return SectorInput(WINDOW, devices, reports, prior or {}, {ENTROPY_CONTEXT_KEY: entropies})


def _reasons(data: SectorInput, params: PocParams = PARAMS) -> dict[str, str]:
    return {v.report_id: v.reason for v in evaluate_poc(data, params).verdicts}


def test_every_report_gets_a_verdict_and_valid_ones_earn_hip15_units() -> None:
    data = _epoch(5)
    outcome = evaluate_poc(data, PARAMS)
    assert len(outcome.verdicts) == len(data.reports)
    assert {v.reason for v in outcome.verdicts} == {"ok"}
    units = {(c.device_id, c.category): c for c in outcome.contributions}
    beacon_b = units[("b", "beacons")]
    scale, trust = Fraction(beacon_b.breakdown["hex_scale"]), beacon_b.breakdown["trust_ppm"]
    expected = math.floor(compute_beacon_unit(5, PARAMS) * scale * Fraction(trust, 10**6) * UNIT_SCALE)
    assert beacon_b.units == expected
    assert units[("w1", "witnesses")].breakdown["hip15_units"] == str(compute_witness_unit(5, PARAMS))
    assert {"hip15_units", "hex_scale", "trust", "trust_ppm", "rule"} <= set(beacon_b.breakdown)


def test_invalid_reports_get_their_reason_codes() -> None:
    beacon = beacon_payload()
    extra = [
        record("malformed", WITNESS, "w1", T0 + 5, {"beaconer": "b"}),
        record(
            "orphan", WITNESS, "w2", T0 + 5, witness_payload(beacon_payload(ts=T0 + 7_200), rssi_dbm=-95.0)
        ),
        record(
            "dup", WITNESS, "w1", T0 + 6, witness_payload(beacon, rssi_dbm=-95.0, rx_ms=beacon.tx_ms + 50)
        ),
        record("again", BEACON, "b", T0 + 62, beacon_payload(ts=T0 + 30, local="ffffffffffffffff")),
    ]
    reasons = _reasons(_epoch(3, extra=extra))
    assert reasons["malformed"] == "witness.malformed"
    assert reasons["orphan"] == "witness.no_beacon"
    assert reasons["dup"] == "witness.duplicate"
    assert reasons["again"] == "beacon.too_frequent"


def test_witness_cap_marks_the_fifteenth_witness_not_selected() -> None:
    reasons = _reasons(_epoch(15))
    assert reasons["wit-14"] == "witness.not_selected"
    assert sum(1 for k in range(15) if reasons[f"wit-{k}"] == "ok") == 14


def test_reciprocity_needs_a_witness_from_the_beaconer() -> None:
    data = _epoch(3)
    without = SectorInput(
        data.window,
        data.devices,
        [r for r in data.reports if not r.report_id.startswith("wit-b")],
        {},
        data.context,
    )
    reasons = _reasons(without)
    assert reasons["beacon-b"] == "beacon.not_reciprocal"
    assert reasons["wit-0"] == "witness.beacon_not_reciprocal"


def test_reciprocity_is_carried_by_the_prior_state() -> None:
    data = _epoch(3)
    state = evaluate_poc(data, PARAMS).state
    reports = [r for r in data.reports if not r.report_id.startswith("wit-b")]
    carried = SectorInput(data.window, data.devices, reports, state, data.context)
    assert _reasons(carried)["beacon-b"] == "ok"


def test_state_is_json_and_the_result_is_deterministic() -> None:
    data = _epoch(6)
    first, second = evaluate_poc(data, PARAMS), evaluate_poc(data, PARAMS)
    assert json.loads(json.dumps(first.state)) == first.state
    assert first.verdicts == second.verdicts
    assert first.contributions == second.contributions


def test_implausible_link_is_dropped_with_its_evidence_and_rules_alone_accept_it() -> None:
    far = device("x", cell_at(40_000))
    beacon = beacon_payload()
    data = _epoch(3, extra=[record("far", WITNESS, "x", T0 + 5, witness_payload(beacon, rssi_dbm=-118.0))])
    prior = {"last_witness": {"x": T0 - 60}, "last_beacon": {"x": T0 - 60}}
    data = SectorInput(data.window, {**data.devices, "x": far}, data.reports, prior, data.context)
    verdicts = {v.report_id: v for v in evaluate_poc(data, PARAMS).verdicts}
    assert verdicts["far"].reason == "witness.implausible_link"
    assert verdicts["far"].evidence["hear_probability"] < PARAMS.trust.implausible_probability
    baseline = PARAMS.model_copy(update={"trust": PARAMS.trust.model_copy(update={"enabled": False})})
    assert _reasons(data, baseline)["far"] == "ok"


def test_relayed_witness_is_dropped_by_timing() -> None:
    beacon = beacon_payload()
    late = record(
        "late", WITNESS, "w0", T0 + 6, witness_payload(beacon, rssi_dbm=-95.0, rx_ms=beacon.tx_ms + 600)
    )
    data = _epoch(0, extra=[late])
    data = SectorInput(
        data.window, {**data.devices, "w0": device("w0", cell_at(2_500))}, data.reports, {}, data.context
    )
    verdict = {v.report_id: v for v in evaluate_poc(data, PARAMS).verdicts}["late"]
    assert verdict.reason == "witness.relayed"
    assert verdict.evidence["lag_ms"] == 600


def test_inactive_hotspots_get_the_default_hex_scale() -> None:
    outcome = evaluate_poc(_epoch(2), PARAMS)
    assert all(Fraction(c.breakdown["hex_scale"]) > 0 for c in outcome.contributions)
    assert not any(n.reason == "poc.default_hex_scale" for n in outcome.notes)
