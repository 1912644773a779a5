"""The report log in blocks (store/report_blocks.py): blocks give back exactly the rows they were made of,
the fast id sort is the plain sort, and on both stores the blocks read for a window are the window's
stored reports (compaction included) or, where they cannot be, nothing (then the rows are read)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opendepin.reports.columns import REPORT_SCHEMA
from opendepin.reports.envelope import Envelope, compute_report_id, encode_envelope
from opendepin.reports.model import ReportRecord
from opendepin.store import sql as sql_module
from opendepin.store.base import EpochRecord, Store, StoredReport
from opendepin.store.errors import StoreCorruption
from opendepin.store.report_blocks import (
    COMPACT_COUNT,
    SMALL_ROWS,
    decode_blocks,
    encode_block,
    encode_frame_block,
    sort_by_report_id,
)
from opendepin.store.sqlite import SQLiteStore

INT64 = st.integers(-(2**63), 2**63 - 1)
ROWS = st.lists(
    st.tuples(
        st.text(max_size=70),
        st.text(max_size=20),
        st.text(max_size=80),
        INT64,
        INT64,
        INT64,
        st.binary(max_size=300),
    ),
    min_size=1,
    max_size=40,
)


@given(st.lists(ROWS, min_size=1, max_size=5))
@settings(max_examples=60, deadline=None)
def test_blocks_give_back_their_rows(batches: list[list[tuple[object, ...]]]) -> None:
    blocks = [encode_block(rows) for rows in batches]
    frame = decode_blocks(block.data for block in blocks)
    assert dict(frame.schema) == REPORT_SCHEMA
    assert frame.rows() == [row for rows in batches for row in rows]
    for block, rows in zip(blocks, batches, strict=True):
        assert (block.min_ts, block.max_ts) == (min(r[3] for r in rows), max(r[3] for r in rows))
        assert (block.min_received, block.max_received) == (min(r[5] for r in rows), max(r[5] for r in rows))
        assert block.row_count == len(rows)
    merged = encode_frame_block(frame)  # what a merge of small blocks writes
    assert decode_blocks([merged.data]).equals(frame)
    assert merged[:5] == (
        min(b.min_ts for b in blocks),
        max(b.max_ts for b in blocks),
        min(b.min_received for b in blocks),
        max(b.max_received for b in blocks),
        frame.height,
    )


def test_a_block_that_does_not_decode_is_corruption() -> None:
    good = encode_block([("a", "k", "d", 1, 2, 3, b"e")]).data
    for bad in (b"", b"\x00" * 16, good[: len(good) // 2]):
        with pytest.raises(StoreCorruption):
            decode_blocks([bad])


def test_a_damaged_length_read_as_the_end_of_the_stream_is_corruption_not_a_short_block() -> None:
    """A zero byte in the record batch's message length reads as the end-of-stream marker: the stream would
    decode, valid, with no rows (found by the property below: a block silently losing its reports)."""
    data = bytearray(encode_block([("", "0", "000\x80𐀀𐀀", 0, 0, 0, b"e")]).data)
    data[31229 % len(data)] = 0
    with pytest.raises(StoreCorruption, match="stream ends at byte"):
        decode_blocks([bytes(data)])


@given(ROWS, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=6))
@settings(max_examples=300, deadline=None)
def test_damaged_blocks_are_corruption_or_read_safely(
    rows: list[tuple[object, ...]], damage: list[tuple[int, int]]
) -> None:
    """Blocks hold views (offsets into their own bytes): damaged views must not reach polars. Either the
    block is refused as corruption or every value reads (sorting, lengths and hex of every column)."""
    data = bytearray(encode_block(rows).data)
    for at, value in damage:
        data[at % len(data)] = value
    try:
        frame = decode_blocks([bytes(data)])
    except StoreCorruption:
        return
    assert frame.height == len(rows)
    frame.sort("report_id", "device_id", "kind")
    assert frame["envelope"].bin.encode("hex").str.len_bytes().sum() is not None
    assert frame.select(pl.col("report_id", "kind", "device_id").str.len_bytes().sum()).height == 1


HEX = st.text(alphabet="0123456789abcdef", min_size=0, max_size=70)


@given(
    st.lists(
        st.one_of(
            HEX,
            st.builds(lambda tail: "0123456789abcde" + tail, HEX),  # equal 60-bit prefixes
            st.text(max_size=20),  # anything else: the plain sort
        ),
        max_size=60,
    )
)
@settings(max_examples=200, deadline=None)
def test_the_fast_id_sort_is_the_sort(ids: list[str]) -> None:
    frame = pl.DataFrame(
        {"report_id": ids, "row": list(range(len(ids)))}, schema={"report_id": pl.String, "row": pl.Int64}
    )
    assert sort_by_report_id(frame)["report_id"].to_list() == sorted(ids)


def test_the_fast_id_sort_on_hashes() -> None:
    ids = [hashlib.sha256(i.to_bytes(4, "big")).hexdigest() for i in range(20_000)]
    ids += [ids[7][:15] + "0" * 49, ids[7][:15] + "f" * 49]  # ties on the prefix
    frame = pl.DataFrame({"report_id": ids, "row": range(len(ids))})
    assert sort_by_report_id(frame.clone()).equals(frame.sort("report_id"))


def _stored(i: int, ts: int | None = None) -> StoredReport:
    kind = ("wireless.heartbeat", "wireless.speedtest", "weather.obs")[i % 3]
    device = f"ed25519:{i % 7:064x}"
    ts = 1_000 + i * 7 if ts is None else ts
    received = 9_000 - i * 3
    payload = {"lat": 52.5 + i / 1000, "lon": 13.4} if i % 3 == 0 else {"n": i}
    envelope = encode_envelope(Envelope(kind, device, ts, i, payload))
    record = ReportRecord(compute_report_id(envelope), kind, device, ts, i, payload, received)
    return StoredReport(record, envelope, bytes([i % 256]) * 64)


WINDOWS = [(0, 10**6), (1_050, 1_300), (4_000, 4_600), (8_000, 8_700), (9, 10)]


def _same_as_rows(store: Store) -> None:
    for start, end in WINDOWS:
        for by_receive_time in (False, True):
            logged = store.logged_report_frame(start, end, by_receive_time)
            assert logged is not None, (start, end, by_receive_time)
            assert logged.equals(store.report_frame(start, end, by_receive_time))


def _block_counts(store: Store) -> list[int]:
    rows = store._query("SELECT row_count FROM report_blocks ORDER BY id")  # type: ignore[attr-defined]
    return [int(n) for (n,) in rows]


def test_blocks_are_the_stored_reports_and_small_ones_merge(any_store: Store) -> None:
    any_store.append([_stored(i) for i in range(100)], [])
    _same_as_rows(any_store)
    for i in range(100, 100 + 2 * COMPACT_COUNT):  # one report a batch, as single posts arrive
        any_store.append([_stored(i)], [])
    _same_as_rows(any_store)
    counts = _block_counts(any_store)
    assert sum(counts) == 100 + 2 * COMPACT_COUNT
    assert len(counts) < COMPACT_COUNT  # merged: reading a window costs few blocks
    assert sum(1 for n in counts if n < SMALL_ROWS) < COMPACT_COUNT


def test_a_batch_the_database_partly_skipped_gets_no_block(any_store: Store) -> None:
    any_store.append([_stored(i) for i in range(10)], [])
    any_store.append([_stored(5), _stored(50)], [])  # 5 is already stored: only 50 is inserted
    assert any_store.count_reports(0, 10**6) == 11
    assert any_store.logged_report_frame(0, 10**6) is None  # 50 is in no block: read the rows
    assert any_store.logged_report_frame(0, 1_100) is not None  # a window without it is complete


def test_rows_written_without_blocks_are_read_from_the_rows(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store.append([_stored(i) for i in range(10)], [])
    extra = _stored(11)
    with store._tx() as cur:  # another program (or an older engine) writes a row, no block
        cur.execute(
            "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                extra.record.report_id,
                extra.record.device_id,
                extra.record.kind,
                extra.record.seq,
                extra.record.ts,
                extra.record.received_at,
                extra.envelope,
                extra.signature,
            ),
        )
    assert store.logged_report_frame(0, 10**6) is None
    store._db.execute("DELETE FROM reports WHERE report_id = ?", (extra.record.report_id,))
    store._db.execute("DELETE FROM reports WHERE report_id = ?", (_stored(3).record.report_id,))
    assert store.logged_report_frame(0, 10**6) is None  # a row gone from the table: not the blocks'
    store.close()


def test_a_failed_transaction_leaves_no_block(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "db.sqlite3")
    store._db.execute(
        "CREATE TRIGGER boom AFTER INSERT ON report_blocks BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
    )
    with pytest.raises(Exception, match="disk gone"):
        store.append([_stored(i) for i in range(5)], [])
    assert store.count_reports(0, 10**6) == 0 and _block_counts(store) == []
    store.close()


def test_pruning_deletes_the_blocks_below_an_epochs_end(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql_module, "PRUNE_BLOCKS", 1)  # a transaction per block
    any_store.append([_stored(i, ts=1_000 + i) for i in range(5)], [])  # received 8,988..9,000
    any_store.append([_stored(i, ts=100 + i) for i in range(10, 15)], [])  # received 8,958..8,970
    any_store.append([_stored(i, ts=100 + i) for i in range(20, 22)] + [_stored(22, ts=20_000)], [])
    any_store.append([_stored(i, ts=100 + i) for i in range(30, 32)], [])  # received 8,907..8,910
    assert _block_counts(any_store) == [5, 5, 3, 2]
    any_store.save_epoch(EpochRecord(0, 0, 8_980, {"root": None}, {}))
    assert _block_counts(any_store) == [5, 5, 3, 2]  # saving keeps them: its transaction stays short
    assert any_store.prune_report_blocks(8_980) == 2  # the 2nd and 4th: wholly before 8,980 (both times)
    assert _block_counts(any_store) == [5, 3]
    any_store.save_epoch(EpochRecord(1, 8_980, 10_000, {"root": None}, {}))
    assert any_store.prune_report_blocks(10_000) == 1
    assert _block_counts(any_store) == [3]  # the one with a report timed 20,000 stays
    assert any_store.prune_report_blocks(10_000) == 0
    logged = any_store.logged_report_frame(10_000, 30_000)
    assert logged is not None and logged["report_id"].to_list() == [_stored(22, ts=20_000).record.report_id]


@pytest.mark.integration
def test_postgres_stores_the_compressed_blocks_without_compressing_them_again() -> None:
    """The blocks' bytes are zstd-compressed already: PostgreSQL keeps them out of line (`EXTERNAL`), without
    trying its own compression on each (migration 12), and a block read back is the block written."""
    from tests.store.pg import postgres_store

    with postgres_store() as store:
        storage = dict(
            store._db.execute(
                "SELECT c.relname, a.attstorage FROM pg_attribute a JOIN pg_class c ON a.attrelid = c.oid "
                "WHERE a.attname = 'block' AND c.relname IN ('report_blocks', 'verdict_blocks')"
            ).fetchall()
        )
        assert storage == {"report_blocks": "e", "verdict_blocks": "e"}
        store.append([_stored(i) for i in range(3000)], [])
        _same_as_rows(store)


@pytest.mark.integration
def test_writers_merging_at_once_never_lose_or_repeat_a_report() -> None:
    """Two PostgreSQL connections append single reports at once, each merging small blocks when enough
    wait (FOR UPDATE SKIP LOCKED): every report is in exactly one block."""
    from opendepin.store.postgres import PostgresStore
    from tests.store.pg import postgres_database

    with postgres_database() as dsn:
        stores = [PostgresStore(dsn), PostgresStore(dsn)]
        errors: list[BaseException] = []

        def write(store: PostgresStore, first: int) -> None:
            try:
                for i in range(first, 400, 2):
                    store.append([_stored(i)], [])
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=write, args=(s, k)) for k, s in enumerate(stores)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        _same_as_rows(stores[0])
        counts = _block_counts(stores[0])
        assert sum(counts) == 400 and len(counts) < 2 * COMPACT_COUNT
        for store in stores:
            store.close()


def test_a_large_batch_is_written_as_several_blocks(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opendepin.store.sql as sql

    monkeypatch.setattr(sql, "BLOCK_ROWS", 40)
    any_store.append([_stored(i) for i in range(100)], [])
    assert _block_counts(any_store) == [40, 40, 20]
    _same_as_rows(any_store)


def test_reports_whose_block_cannot_be_made_are_stored_all_the_same(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import opendepin.store.sql as sql

    def broken(rows: object) -> object:
        raise ValueError("no block today")

    monkeypatch.setattr(sql, "encode_block", broken)
    any_store.append([_stored(i) for i in range(10)], [])
    assert any_store.count_reports(0, 10**6) == 10 and _block_counts(any_store) == []
    assert any_store.logged_report_frame(0, 10**6) is None  # the close reads the rows


def test_blocks_of_the_earlier_layout_are_dropped_and_their_window_read_from_the_rows(tmp_path: Path) -> None:
    """Migration 11: a store holding blocks of the uncompressed offset layout (migration 9's) loses them on
    upgrade; its reports are still read whole, from the rows, and new writes make blocks of the new layout."""
    path = tmp_path / "v10.sqlite3"
    store = SQLiteStore(path)
    reports = [_stored(i) for i in range(6)]
    store.append(reports, [])
    store._db.execute("UPDATE report_blocks SET block = ?", (b"an uncompressed offset-layout batch",))
    store._db.execute("PRAGMA user_version=10")
    store.close()
    upgraded = SQLiteStore(path)
    assert _block_counts(upgraded) == []
    assert upgraded.logged_report_frame(0, 100_000) is None  # then the close reads the rows
    assert sorted(upgraded.report_frame(0, 100_000)["report_id"].to_list()) == sorted(
        r.record.report_id for r in reports
    )
    upgraded.append([_stored(i) for i in range(10, 13)], [])
    assert _block_counts(upgraded) == [3]
    upgraded.close()
