"""An epoch computed from columns (what the node gathers) equals the epoch computed from records (what a
bundle's verifier recomputes with the per-report rules): the same manifest, inputs digest, Merkle root,
reason counts, and every published row, for random report sets; so the same bundle bytes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cbor2
import h3
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opendepin.config import NetworkConfig, load_config
from opendepin.geo import offset_point
from opendepin.reports.columns import ReportColumns
from opendepin.reports.model import ReportRecord
from opendepin.rewards.bundle import EpochOutputs
from opendepin.rewards.digest import (
    _JSON_PLAIN,
    _plain_json_text,
    _report_list_text,
    canonical_json,
    compute_inputs_digest,
    inputs_body,
    sha256_hex,
)
from opendepin.rewards.epoch import (
    EpochInputs,
    EpochResult,
    collect_verdicts,
    merge_verdicts,
    process_epoch,
    window_for,
)
from opendepin.sectors.base import DeviceInfo, Verdict
from opendepin.sectors.columns import VerdictColumns, VerdictRows, evidence_json
from opendepin.sectors.registry import load_sectors
from opendepin.sectors.sensors.reports import WEATHER
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CONFIGS = {
    "wireless": NetworkConfig(),
    "wireless-poc": load_config(EXAMPLES / "wireless-iot.toml"),
    "weather": load_config(EXAMPLES / "weather.toml"),
}
CELLS = ("8c1f1d48945d9ff", "8c1f1d48945dbff", "8c1f1d48945d1ff")


@st.composite
def epochs(draw: st.DrawFn, config: NetworkConfig) -> EpochInputs:
    """Devices (owners shared, cells shared or missing) and their reports of every kind the tests know,
    some from devices not registered, ids unique (some with characters JSON escapes), prior rewards."""
    window = window_for(config, 0)
    devices: dict[str, DeviceInfo] = {}
    reports: list[ReportRecord] = []
    for i in range(draw(st.integers(0, 6))):
        cell = draw(st.sampled_from((*CELLS, None)))
        device = DeviceInfo(
            f"ed25519:{i:064x}", f"0x{draw(st.integers(1, 3)):040x}", "0x" + "22" * 20, "ed25519", cell, i
        )
        if draw(st.integers(0, 5)):
            devices[device.device_id] = device
        lat0, lon0 = h3.cell_to_latlng(cell or CELLS[0])
        for _ in range(draw(st.integers(0, 28))):
            ts = window.start + draw(st.integers(0, window.end - window.start - 1))
            kind = draw(st.sampled_from((HEARTBEAT, HEARTBEAT, HEARTBEAT, SPEEDTEST, WEATHER)))
            if kind == HEARTBEAT:
                metres = draw(st.sampled_from((5.0, 299.0, 350.0, 420.0)))
                lat, lon = offset_point(lat0, lon0, metres, draw(st.floats(0, 359)))
                payload: dict[str, object] = {"lat": lat, "lon": lon}
            elif kind == SPEEDTEST:
                payload = {"download_mbps": 150.0, "upload_mbps": 12.5, "latency_ms": draw(st.floats(1, 90))}
            else:
                payload = {
                    "temperature_c": draw(st.floats(-10, 40)),
                    "humidity_pct": 50.0,
                    "pressure_hpa": 1013.0,
                    "wind_speed_ms": 3.5,
                    "wind_dir_deg": 180.0,
                    "solar_wm2": None,
                    "rain_acc_mm": 0.0,
                }
            mark = draw(st.sampled_from(("", "", "", '"', "\\", "\n", "é")))
            rid = f"{len(reports):05d}{mark}{draw(st.integers(0, 2**64)):x}"
            reports.append(ReportRecord(rid, kind, device.device_id, ts, len(reports), payload, ts + 3))
    prior = draw(st.dictionaries(st.sampled_from([f"0x{o:040x}" for o in (1, 2, 9)]), st.integers(0, 10**20)))
    return EpochInputs(window, devices, sorted(reports, key=lambda r: r.report_id), prior)


def _by_device(rows: list) -> list:
    """Verdict rows in (device, report) order: the order the store keeps, and a bundle publishes, them in
    (a sector's verdicts come in its own order: the columnar judge puts speed tests after every heartbeat)."""
    return sorted(rows, key=lambda r: (r[1], r[0]))


def _published(result: EpochResult) -> bytes:
    """Everything an epoch publishes, as the bundle encodes it (deterministic CBOR)."""
    outputs = EpochOutputs.of(result, result.device_state)
    return bytes(
        cbor2.dumps(
            {
                "manifest": dict(outputs.manifest),
                "verdicts": _by_device([list(r) for r in outputs.verdicts]),
                "device_rewards": [list(r) for r in outputs.device_rewards],
                "owner_rewards": [list(r) for r in outputs.owner_rewards],
                "notes": [list(r) for r in outputs.notes],
                "sector_state": dict(outputs.sector_state),
                "device_state": {k: dict(v) for k, v in outputs.device_state.items()},
            },
            canonical=True,
        )
    )


def _check_same_epoch(config: NetworkConfig, inputs: EpochInputs) -> None:
    sectors = load_sectors(config)
    reference = process_epoch(config, sectors, inputs)
    columnar = process_epoch(config, sectors, replace(inputs, reports=ReportColumns.of(inputs.reports)))
    assert columnar.manifest == reference.manifest
    assert canonical_json(columnar.manifest) == canonical_json(reference.manifest)
    assert len(columnar.verdicts) == len(reference.verdicts)
    verdicts = [_by_device([tuple(r) for r in result.verdicts]) for result in (columnar, reference)]
    assert verdicts[0] == verdicts[1]
    assert columnar.device_rewards == reference.device_rewards
    assert columnar.owner_rewards == reference.owner_rewards
    assert columnar.notes == reference.notes
    assert columnar.sector_state == reference.sector_state
    assert columnar.device_state == reference.device_state
    assert (columnar.tree.root_hex if columnar.tree else None) == (
        reference.tree.root_hex if reference.tree else None
    )
    assert _published(columnar) == _published(reference)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(epochs(CONFIGS["wireless"]))
def test_columnar_wireless_epoch_is_the_reference_epoch(inputs: EpochInputs) -> None:
    """The wireless judge over columns (the fast path) against the per-report rules."""
    _check_same_epoch(CONFIGS["wireless"], inputs)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(("wireless-poc", "weather")), st.data())
def test_sectors_without_a_columnar_judge_read_columns_as_records(name: str, data: st.DataObject) -> None:
    """Proof of coverage and the sensors sector have no columnar judge: they read the columns as records."""
    config = CONFIGS[name]
    _check_same_epoch(config, data.draw(epochs(config)))


@settings(max_examples=40, deadline=None)
@given(epochs(CONFIGS["wireless"]))
def test_inputs_digest_from_columns(inputs: EpochInputs) -> None:
    """The digest streamed from the columns hashes the bytes of the canonical JSON of the inputs."""
    expected = sha256_hex(canonical_json(inputs_body(inputs)))
    assert compute_inputs_digest(inputs) == expected
    assert compute_inputs_digest(replace(inputs, reports=ReportColumns.of(inputs.reports))) == expected


def test_verdicts_of_several_sectors_are_merged() -> None:
    """Columns are kept only when one sector judged reports; else every verdict is merged as before."""
    frame = pl.DataFrame(
        {
            "report_id": ["a", "b"],
            "device_id": ["d", "d"],
            "reason": ["ok", "x.bad"],
            "evidence": ["{}", '{"n":1}'],
        }
    )
    columns = VerdictColumns(frame)
    assert collect_verdicts([columns, []]) is columns
    other = [Verdict("b", "ok", {"m": 2}), Verdict("c", "y.bad", {})]
    assert collect_verdicts([columns, other]) == merge_verdicts([*columns, *other])
    assert list(columns) == [Verdict("a", "ok", {}), Verdict("b", "x.bad", {"n": 1})]
    assert columns.counts_by_reason() == {"ok": 1, "x.bad": 1}
    rows = columns.rows
    assert isinstance(rows, VerdictRows)
    assert list(rows) == [("a", "d", "ok", {}), ("b", "d", "x.bad", {"n": 1})]
    assert rows == [("a", "d", "ok", {}), ("b", "d", "x.bad", {"n": 1})]
    assert list(rows.text_rows()) == [("a", "d", "ok", "{}"), ("b", "d", "x.bad", evidence_json({"n": 1}))]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.text(max_size=30), max_size=8), max_size=4),
    st.sampled_from(["plain", "cut", "ordered"]),
)
def test_the_buffer_check_of_json_text_is_the_regex(parts: list[list[str]], shape: str) -> None:
    """`_plain_json_text` (bytes of the buffers first) says what the per-id regex says, for columns made of
    several pieces, cut to some rows (bytes of rows cut away stay in the buffers) or reordered."""
    pieces = [pl.Series(part, dtype=pl.String) for part in parts]
    ids = pl.concat(pieces) if pieces else pl.Series([], dtype=pl.String)
    if shape == "cut":
        ids = ids.filter(pl.Series([i % 2 == 0 for i in range(len(ids))], dtype=pl.Boolean))
    elif shape == "ordered":
        ids = ids.sort()
    assert _plain_json_text(ids) == bool(ids.str.contains(_JSON_PLAIN).all())


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2**256 - 1), st.integers(0, 10**12)),
        max_size=40,
    ),
    st.sampled_from(["hex", "short", "mixed"]),
    st.sampled_from(["whole", "sliced", "pieces"]),
    st.integers(1, 12),
)
def test_report_rows_written_a_chunk_at_a_time_are_canonical_json(
    rows: list[tuple[int, int]], ids: str, shape: str, digits: int
) -> None:
    """`_report_list_text` writes what canonical JSON writes for the rows (fixed-width bytes where every id
    has one length and every time one number of digits; formatted text otherwise), for frames cut from a
    larger one or made of several pieces."""
    def report_id(value: int, i: int) -> str:
        if ids == "hex":
            return f"{value:064x}"
        return f"{value % 10**digits}" if ids == "short" else f"{value:x}"[: 1 + i % 7]

    def time(value: int) -> int:
        return value if shape == "whole" else 10 ** (digits - 1) + value % (9 * 10 ** (digits - 1))

    frame = pl.DataFrame(
        {
            "report_id": [report_id(v, i) for i, (v, _) in enumerate(rows)],
            "received_at": [time(t) for _, t in rows],
        },
        schema={"report_id": pl.String, "received_at": pl.Int64},
    )
    if shape == "sliced":
        frame = frame.slice(len(rows) // 3, len(rows))
    elif shape == "pieces":
        frame = pl.concat([frame.slice(0, len(rows) // 2), frame.slice(len(rows) // 2)], rechunk=False)
    expected = canonical_json([list(r) for r in frame.rows()])[1:-1]
    assert bytes(_report_list_text(frame)) == expected
