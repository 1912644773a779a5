"""The heartbeat rule over columns (sectors/wireless/columnar.py) gives the reference's outcome exactly:
`evaluate_columns` equals `evaluate` verdict by verdict (reason and evidence, report by report), note by
note and contribution by contribution, on random report sets and parameters."""

from __future__ import annotations

import json

import h3
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendepin.geo import offset_point
from opendepin.reports.columns import ReportColumns
from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo, EpochWindow, SectorInput
from opendepin.sectors.columns import VerdictColumns
from opendepin.sectors.wireless.columnar import compute_round1_text
from opendepin.sectors.wireless.params import WirelessParams
from opendepin.sectors.wireless.plugin import WirelessSector
from opendepin.sectors.wireless.poc.params import PocParams
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

CELLS = ("8c1f1d48945d9ff", "8c1f1d48945dbff", "8c1f1d48945d1ff")
START = 1_767_225_600
WINDOW = EpochWindow(0, START, START + 86_400)


@st.composite
def report_sets(draw: st.DrawFn) -> tuple[dict[str, DeviceInfo], list[ReportRecord]]:
    """Radios (some without a cell, some sharing one) and their heartbeats (near, at the trust radii, far;
    several in one hour; equal (ts, seq)) and speed tests, in a random order."""
    count = draw(st.integers(1, 6))
    devices: dict[str, DeviceInfo] = {}
    reports: list[ReportRecord] = []
    for i in range(count):
        cell = draw(st.sampled_from((*CELLS, None)))
        device = DeviceInfo(
            f"ed25519:{draw(st.integers(0, 50)):062x}{i:02x}",
            f"0x{i % 3:040x}",
            "0x" + "22" * 20,
            "ed25519",
            cell,
            draw(st.integers(0, 3)),
        )
        devices[device.device_id] = device
        lat0, lon0 = h3.cell_to_latlng(cell or CELLS[0])
        for _ in range(draw(st.integers(0, 30))):
            ts = START + draw(st.integers(0, 86_399))
            seq = draw(st.integers(0, 5))
            if draw(st.integers(0, 6)) == 0:
                payload = {
                    "download_mbps": draw(st.floats(0, 300, allow_nan=False)),
                    "upload_mbps": draw(st.floats(0, 30, allow_nan=False)),
                    "latency_ms": draw(st.floats(0, 200, allow_nan=False)),
                }
                kind = SPEEDTEST
            else:
                metres = draw(st.sampled_from((0.0, 10.0, 299.9, 300.0, 300.1, 350.0, 400.0, 400.1, 5000.0)))
                lat, lon = offset_point(lat0, lon0, metres, draw(st.floats(0, 359)))
                if draw(st.booleans()):  # positions that CBOR writes as half or single floats
                    lat, lon = float(np.float32(lat)), float(np.float16(lon))
                payload = {"lat": lat, "lon": lon}
                kind = HEARTBEAT
            rid = f"{len(reports):04d}{draw(st.integers(0, 10**6)):060x}"
            reports.append(ReportRecord(rid, kind, device.device_id, ts, seq, payload, ts + 5))
    order = draw(st.permutations(range(len(reports))))
    return devices, [reports[i] for i in order]


params_strategy = st.builds(
    WirelessParams,
    min_heartbeats_per_day=st.integers(1, 12),
    trust_full_radius_m=st.sampled_from((300.0, 100.0)),
    trust_partial_radius_m=st.sampled_from((400.0, 2000.0)),
    trust_partial_multiplier=st.sampled_from((0.25, 0.0, 1.0, 0.1)),
    speedtest_min=st.integers(1, 2),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(report_sets(), params_strategy)
def test_columns_give_the_reference_outcome(
    data: tuple[dict[str, DeviceInfo], list[ReportRecord]], params: WirelessParams
) -> None:
    devices, reports = data
    sector = WirelessSector(params)
    reference = sector.evaluate(SectorInput(WINDOW, devices, reports))
    columnar = sector.evaluate_columns(SectorInput(WINDOW, devices, ReportColumns.of(reports)))
    assert columnar is not None
    assert isinstance(columnar.verdicts, VerdictColumns)
    # the same verdicts, report by report (their order is not published: verdicts are stored and compared in
    # (device, report) order), and the evidence written as the reference's canonical JSON
    expected = {v.report_id: v for v in reference.verdicts}
    got = list(columnar.verdicts)
    assert len(got) == len(expected) and {v.report_id: v for v in got} == expected
    text = columnar.verdicts.rows.text_frame()
    assert dict(zip(text["report_id"].to_list(), text["evidence"].to_list(), strict=True)) == {
        key: json.dumps(v.evidence, sort_keys=True, separators=(",", ":")) for key, v in expected.items()
    }
    assert list(columnar.notes) == list(reference.notes)
    assert list(columnar.contributions) == list(reference.contributions)
    assert columnar.state == reference.state


def test_columns_decline_proof_of_coverage() -> None:
    """Beacons and witnesses are judged together across the epoch: no columnar form, the reference runs."""
    sector = WirelessSector(WirelessParams(poc=PocParams()))
    assert sector.evaluate_columns(SectorInput(WINDOW, {}, ReportColumns.of([]))) is None


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_round1_text_is_pythons(value: float) -> None:
    assert compute_round1_text(np.array([value])).to_list() == [json.dumps(round(value, 1))]


@pytest.mark.parametrize(
    "value", [0.0, -0.0, 0.05, 0.25, 0.35, 0.45, 1.25, 2.5e-5, 1e-300, 5e-324, 299.95, 300.05, 2.0**40, 1e15]
)
def test_round1_text_at_ties_and_edges(value: float) -> None:
    values = np.array([value, value + 1e-9, 12.34])
    assert compute_round1_text(values).to_list() == [json.dumps(round(float(v), 1)) for v in values]
