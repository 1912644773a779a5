"""Reports as columns (reports/columns.py): read as records they are the records; payload floats read from
the envelope bytes are `float(payload[key])`, bit for bit, whatever CBOR width each float was written in."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.reports import columns as columns_module
from opendepin.reports.columns import REPORT_SCHEMA, ReportColumns, _read_float_maps, index_devices
from opendepin.reports.model import ReportRecord

DEVICE = "ed25519:" + "ab" * 32

floats = st.one_of(
    st.floats(allow_nan=False, allow_infinity=True),
    st.floats(width=16, allow_nan=False),
    st.floats(width=32, allow_nan=False),
)
payloads = st.one_of(
    st.fixed_dictionaries({"lat": floats, "lon": floats}),
    st.fixed_dictionaries({"lat": st.integers(-(2**63), 2**63), "lon": floats}),  # decoded, not read
    st.fixed_dictionaries({"lat": floats, "lon": floats, "alt": floats}),
    st.fixed_dictionaries({"lon": floats, "lat": floats, "zz": st.text(max_size=3)}),
)


def _record(i: int, payload: dict[str, Any], kind: str = "wireless.heartbeat", ts: int = 0) -> ReportRecord:
    return ReportRecord(f"{i:064x}", kind, DEVICE, ts, i * 37, payload, ts + 1)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(payloads, st.integers(0, 2**63 - 2), st.sampled_from(("k", "wireless.heartbeat")))))
def test_float_fields_are_floats_of_the_payload(rows: list[tuple[dict[str, Any], int, str]]) -> None:
    records = [_record(i, payload, kind, ts) for i, (payload, ts, kind) in enumerate(rows)]
    columns = ReportColumns.of(records)
    values = columns.float_fields(("lon", "lat"))
    rows = np.array([i for i in reversed(range(len(records))) if i % 3], dtype=np.int64)
    chosen = columns.float_fields(("lat", "lon"), rows)  # some rows, in a given order
    for key in ("lat", "lon"):
        expected = np.array([float(r.payload[key]) for r in records], dtype=np.float64)
        assert values[key].view(np.int64).tolist() == expected.view(np.int64).tolist()
        assert chosen[key].view(np.int64).tolist() == expected[rows].view(np.int64).tolist()


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.fixed_dictionaries({"lat": floats, "lon": floats}), max_size=20), max_size=4),
    st.integers(1, 7),
)
def test_float_fields_across_buffers_and_chunks(parts: list[list[dict[str, float]]], chunk: int) -> None:
    """A frame made of several stored blocks points into several buffers, in any row order (sorted by id
    after reading); the floats are read the same, whatever the number of rows read at once."""
    records = [_record(i, p) for i, p in enumerate(p for part in parts for p in part)]
    frames, start = [], 0
    for part in parts:
        frames.append(ReportColumns.of(records[start : start + len(part)]).frame)
        start += len(part)
    frame = pl.concat(frames, rechunk=False) if frames else ReportColumns.of([]).frame
    order = np.random.default_rng(len(records)).permutation(len(records))
    shuffled = pl.DataFrame([frame[name].rechunk().gather(order) for name in frame.columns])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(columns_module, "FLOAT_CHUNK", chunk)
        values = ReportColumns(shuffled).float_fields(("lat", "lon"))
    for key in ("lat", "lon"):
        expected = np.array([float(records[i].payload[key]) for i in order], dtype=np.float64)
        assert values[key].view(np.int64).tolist() == expected.view(np.int64).tolist()


@given(st.lists(st.fixed_dictionaries({"lat": floats, "lon": floats}), max_size=50))
def test_float_maps_are_read_without_decoding(rows: list[dict[str, float]]) -> None:
    """Every canonical map of exactly the keys holding floats takes the vectorised path."""
    columns = ReportColumns.of([_record(i, p, ts=i * 10**12) for i, p in enumerate(rows)])
    values = {k: np.zeros(len(rows)) for k in ("lat", "lon")}
    done = np.zeros(len(rows), dtype=np.bool_)
    _read_float_maps(columns.frame, ["lat", "lon"], values, done)
    assert done.all()
    assert values["lat"].tolist() == [p["lat"] for p in rows]


def test_a_foreign_envelope_is_decoded() -> None:
    """Bytes that are not the canonical envelope of their row's columns are decoded, never read by offset."""
    import cbor2

    frame = pl.DataFrame(
        {
            "report_id": ["a"],
            "kind": ["k"],
            "device_id": ["d"],
            "ts": [1],
            "seq": [2],
            "received_at": [3],
            "envelope": [cbor2.dumps({"payload": {"lat": 1.5, "lon": 2.5}}, canonical=True)],
        },
        schema=REPORT_SCHEMA,
    )
    columns = ReportColumns(frame)
    done = np.zeros(1, dtype=np.bool_)
    _read_float_maps(frame, ["lat", "lon"], {"lat": np.zeros(1), "lon": np.zeros(1)}, done)
    assert not done.any()
    assert columns.float_fields(("lat", "lon"))["lon"].tolist() == [2.5]
    assert list(columns) == [ReportRecord("a", "k", "d", 1, 2, {"lat": 1.5, "lon": 2.5}, 3)]


@given(st.lists(payloads, max_size=20), st.data())
def test_columns_read_as_the_records(rows: list[dict[str, Any]], data: st.DataObject) -> None:
    records = [_record(i, p, kind=("a", "b", "c")[i % 3]) for i, p in enumerate(rows)]
    columns = ReportColumns.of(records)
    assert list(columns) == records
    assert columns == records
    assert len(columns) == len(records)
    if records:
        i = data.draw(st.integers(-len(records), len(records) - 1))
        assert columns[i] == records[i]
        assert columns[1:3] == records[1:3]
    kinds = data.draw(st.sets(st.sampled_from("abc")))
    assert list(columns.select(kinds, {DEVICE})) == [r for r in records if r.kind in kinds]
    assert list(columns.select(kinds, set())) == []


def test_a_frame_needs_the_report_columns() -> None:
    with pytest.raises(ValueError, match="columns"):
        ReportColumns(pl.DataFrame({"report_id": ["a"]}))


def _plain_index(devices: list[str]) -> tuple[list[str], list[int]]:
    ids = sorted(set(devices))
    return ids, [ids.index(d) for d in devices]


DEVICE_IDS = st.sampled_from(["", "a", "b", "ed25519:" + "f" * 64, "é", "ed25519:00", "z" * 13])


@settings(max_examples=80, deadline=None)
@given(st.lists(DEVICE_IDS, max_size=60))
def test_device_index_is_the_sorted_ids_and_each_reports_position(devices: list[str]) -> None:
    index = index_devices(pl.Series("device_id", devices, dtype=pl.String))
    ids, codes = _plain_index(devices)
    assert index.ids.to_list() == ids and index.codes.tolist() == codes
    assert index.codes.dtype == np.uint32


def test_device_ids_that_share_a_hash_are_told_apart() -> None:
    """Hashes only group: ids an attacker made collide (every hash equal here) are still indexed apart."""
    devices = ["ed25519:b", "ed25519:a", "ed25519:b", "ed25519:c", "ed25519:a"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pl.Series, "hash", lambda self, seed=0: pl.Series([7] * len(self), dtype=pl.UInt64))
        index = index_devices(pl.Series("device_id", devices))
    ids, codes = _plain_index(devices)
    assert index.ids.to_list() == ids and index.codes.tolist() == codes


def test_select_drops_unregistered_devices_by_their_index() -> None:
    records = [
        ReportRecord(f"r{i}", kind, device, 100 + i, i, {"x": 1.0}, 100 + i)
        for i, (kind, device) in enumerate(
            [("k", "d1"), ("k", "d2"), ("other", "d1"), ("k", "d3"), ("k", "d2")]
        )
    ]
    columns = ReportColumns.of(records)
    chosen = columns.select({"k"}, {"d1", "d2"})
    assert [r.report_id for r in chosen] == ["r0", "r1", "r4"]
    assert chosen.devices().ids.to_list() == ["d1", "d2"]
    assert columns.select({"k", "other"}, {"d1", "d2", "d3"}) is columns
