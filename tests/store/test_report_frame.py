"""Bulk reads and writes of an epoch on both stores (SQLite, and PostgreSQL on the machine's server): the
report frame holds exactly the stored reports in report-id order, and verdict rows given as columns are
stored as the same rows as verdicts given one by one."""

from __future__ import annotations

import polars as pl
import pytest

from opendepin.reports.columns import REPORT_SCHEMA
from opendepin.reports.envelope import Envelope, compute_report_id, encode_envelope
from opendepin.reports.model import ReportRecord
from opendepin.sectors.columns import VerdictColumns, evidence_json
from opendepin.store.base import EpochRecord, Store, StoredReport


def _stored(i: int) -> StoredReport:
    kind = ("wireless.heartbeat", "wireless.speedtest", "weather.obs")[i % 3]
    device = f"ed25519:{i % 4:064x}"
    ts, received = 1_000 + i * 7, 5_000 - i * 11
    payload = {"lat": 52.5 + i / 1000, "lon": 13.4} if i % 3 == 0 else {"n": i, "s": "x" * (i % 5)}
    envelope = encode_envelope(Envelope(kind, device, ts, i, payload))
    record = ReportRecord(compute_report_id(envelope), kind, device, ts, i, payload, received)
    return StoredReport(record, envelope, bytes([i % 256]) * 64)


@pytest.mark.parametrize(("start", "end"), [(0, 10**6), (1_050, 1_300), (4_000, 4_600), (9, 10)])
def test_report_frame_is_the_stored_reports(any_store: Store, start: int, end: int) -> None:
    any_store.append([_stored(i) for i in range(120)], [])
    for by_receive_time in (False, True):
        frame = any_store.report_frame(start, end, by_receive_time)
        stored = (
            any_store.stored_reports_received_between(start, end)
            if by_receive_time
            else any_store.stored_reports_between(start, end)
        )
        assert dict(frame.schema) == REPORT_SCHEMA
        assert frame.rows() == [
            (
                s.record.report_id,
                s.record.kind,
                s.record.device_id,
                s.record.ts,
                s.record.seq,
                s.record.received_at,
                s.envelope,
            )
            for s in stored
        ]
        assert frame.equals(Store.report_frame(any_store, start, end, by_receive_time))


def test_a_read_comes_a_chunk_at_a_time(any_store: Store) -> None:
    store = any_store
    store.append([_stored(i) for i in range(10)], [])
    query = "SELECT report_id FROM reports ORDER BY report_id"
    chunks = list(store._query_chunks(query, (), size=4))  # type: ignore[attr-defined]
    assert [len(c) for c in chunks] == [4, 4, 2]
    assert [r for c in chunks for r in c] == store._query(query)  # type: ignore[attr-defined]
    store.append([_stored(10)], [])  # the read's transaction is over
    assert store.count_reports(0, 10**6) == 11


def test_verdict_columns_are_stored_as_the_same_rows(any_store: Store) -> None:
    rows = [
        (f"{i:064x}", f"ed25519:{i % 3:064x}", "ok" if i % 4 else "heartbeat.location_too_far", evidence)
        for i, evidence in enumerate(
            [
                {"distance_m": 12.5, "hour": 3600 * i, "location_trust": "1/4", "limit_m": 400.0}
                for i in range(9)
            ]
        )
    ]
    frame = pl.DataFrame(
        {
            "report_id": [r[0] for r in rows],
            "device_id": [r[1] for r in rows],
            "reason": [r[2] for r in rows],
            "evidence": [evidence_json(r[3]) for r in rows],
        }
    )
    any_store.save_epoch(EpochRecord(0, 0, 10, {"n": 0}, {}, verdicts=VerdictColumns(frame).rows))
    any_store.save_epoch(EpochRecord(1, 10, 20, {"n": 1}, {}, verdicts=rows))
    first, second = any_store.get_epoch_detail(0), any_store.get_epoch_detail(1)
    assert first is not None and second is not None
    assert first.verdicts == second.verdicts == sorted(rows)
    stored_text = [any_store.epoch_verdicts(n).sort("report_id").rows() for n in (0, 1)]  # type: ignore[attr-defined]
    assert stored_text[0] == stored_text[1]
