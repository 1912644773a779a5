"""Both stores (SQLite, and PostgreSQL on the machine's real server): migrations, idempotent durable
appends, atomic batches, epoch commit point."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import psycopg
import pytest

from opendepin.reports.model import ReportRecord
from opendepin.sectors.base import DeviceInfo
from opendepin.store.base import EpochRecord, Rejection, Store, StoredReport
from opendepin.store.sqlite import MIGRATIONS, SQLiteStore

DEVICE = DeviceInfo("ed25519:" + "ab" * 32, "0x" + "11" * 20, "0x" + "22" * 20, "ed25519", None, 5)


def _stored(i: int) -> StoredReport:
    import cbor2

    envelope = cbor2.dumps({"payload": {"i": i}}, canonical=True)
    return StoredReport(
        ReportRecord(f"{i:064x}", "k", DEVICE.device_id, 100 + i, i, {"i": i}, 200), envelope, b"s"
    )


def test_migrations_set_version_and_are_rerunnable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    SQLiteStore(path).close()
    SQLiteStore(path).close()
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_deleted_blocks_are_not_zeroed_at_extra_cost(tmp_path: Path) -> None:
    """`secure_delete=FAST` (2) on every connection, whatever the SQLite build defaults to (Debian: 1)."""
    store = SQLiteStore(tmp_path / "db.sqlite3")
    assert store._db.execute("PRAGMA secure_delete").fetchone()[0] == 2
    store.close()


def _reopen(store: Store) -> Store:
    store.close()
    if isinstance(store, SQLiteStore):
        return SQLiteStore(store.path)
    from opendepin.store.postgres import PostgresStore

    assert isinstance(store, PostgresStore)
    return PostgresStore(store.dsn)


def test_append_is_idempotent_and_durable(any_store: Store) -> None:
    store = any_store
    batch = [_stored(i) for i in range(5)]
    store.append(batch, [Rejection("signature.invalid", "bad", 150, raw=b"x")])
    store.append(batch, [])
    reopened = _reopen(store)
    assert reopened.count_reports(0, 10_000) == 5
    assert reopened.last_seqs() == {DEVICE.device_id: 4}
    assert [r.payload for r in reopened.reports_between(101, 103)] == [{"i": 1}, {"i": 2}]
    assert reopened.rejection_counts(0, 1_000) == {"signature.invalid": 1}
    assert reopened.has_report(f"{3:064x}") and not reopened.has_report("00")


def test_batch_lookups_find_exactly_the_stored_keys(any_store: Store) -> None:
    """The gate's per-batch lookups: report ids and `unique` (device, seq) pairs, more keys than one query
    takes (`LOOKUP_CHUNK`), with repeats and keys that were never stored."""
    stored = [_stored(i) for i in range(0, 1000, 2)]
    unique = [StoredReport(r.record, r.envelope, r.signature, seq_unique=True) for r in stored[:450]]
    any_store.append(unique + stored[450:], [])
    asked_ids = [f"{i:064x}" for i in range(1000)] + [f"{4:064x}", "not an id"]
    assert any_store.stored_report_ids(asked_ids) == {f"{i:064x}" for i in range(0, 1000, 2)}
    assert any_store.stored_report_ids([]) == set()
    asked_pairs = [(DEVICE.device_id, i) for i in range(1000)] + [("ed25519:other", 0), (DEVICE.device_id, 0)]
    assert any_store.used_seqs(asked_pairs) == {(DEVICE.device_id, i) for i in range(0, 900, 2)}
    assert any_store.used_seqs([]) == set()


def test_a_refusal_carrying_nul_is_kept_with_the_batch(any_store: Store) -> None:
    """PostgreSQL cannot keep NUL in text; a refused report's message or claimed device can carry one (an
    attacker's payload key, a malformed envelope): kept as U+FFFD, and the batch's accepted reports stored."""
    bad = Rejection(
        "report.schema_invalid", "field \x00: bad", 150, None, "ed25519:\x00x", b"\x00", "http:\x00"
    )
    any_store.append([_stored(1)], [bad])
    assert any_store.count_reports(0, 10_000) == 1
    assert any_store.rejection_counts(0, 1_000) == {"report.schema_invalid": 1}
    (sample,) = any_store.rejection_samples("report.schema_invalid")
    kept = (sample.message, sample.device_id, sample.source)
    assert kept == ("field \ufffd: bad", "ed25519:\ufffdx", "http:\ufffd")
    assert sample.raw == b"\x00"


def test_failed_batch_leaves_nothing(any_store: Store) -> None:
    store = any_store
    bad = StoredReport(ReportRecord("x", "k", DEVICE.device_id, 1, 1, {}, 1), None, b"s")  # type: ignore[arg-type]
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.NotNullViolation)):
        store.append([_stored(1), bad], [])
    assert store.count_reports(0, 10_000) == 0


def test_a_batch_appended_in_parts_is_one_transaction(any_store: Store) -> None:
    """`appending`: the parts' rows go in as they are added, the batch becomes visible (its rows, one report
    block, last seqs, rejections) at the end; a part that fails, or an error between parts, leaves none of
    the batch, the parts already inserted included."""
    store = any_store
    with store.appending() as batch:
        batch.add([_stored(i) for i in range(3)])
        batch.add([])
        batch.add([_stored(i) for i in range(3, 6)])
        batch.reject([Rejection("signature.invalid", "bad", 150)])
    assert store.count_reports(0, 10_000) == 6
    assert store.last_seqs() == {DEVICE.device_id: 5}
    assert store.rejection_counts(0, 1_000) == {"signature.invalid": 1}
    assert store._query("SELECT row_count FROM report_blocks") == [(6,)]  # type: ignore[attr-defined]
    assert store.report_frame(0, 10_000)["seq"].to_list() == list(range(6))
    with pytest.raises(RuntimeError), store.appending() as batch:
        batch.add([_stored(i) for i in range(6, 9)])
        raise RuntimeError("the gate failed between two parts")
    bad = StoredReport(ReportRecord("x", "k", DEVICE.device_id, 1, 1, {}, 1), None, b"s")  # type: ignore[arg-type]
    with pytest.raises((sqlite3.IntegrityError, psycopg.errors.NotNullViolation)), store.appending() as batch:
        batch.add([_stored(9)])
        batch.add([bad])
    reopened = _reopen(store)
    assert reopened.count_reports(0, 10_000) == 6
    assert reopened.last_seqs() == {DEVICE.device_id: 5}


def test_devices_idempotent(any_store: Store) -> None:
    store = any_store
    assert store.add_device(DEVICE, {"sig": "0x00"})
    assert not store.add_device(DEVICE, {"sig": "0x00"})
    assert store.get_device(DEVICE.device_id) == DEVICE
    assert store.get_device("nope") is None


def test_devices_looked_up_a_batch_at_a_time(any_store: Store) -> None:
    """More ids than one query takes, repeats and ids never onboarded: the onboarded ones, once each."""
    onboarded = [
        DeviceInfo(f"ed25519:{i:064x}", DEVICE.owner, DEVICE.maker, "ed25519", None, i) for i in range(450)
    ]
    for device in onboarded:
        any_store.add_device(device, {})
    asked = [d.device_id for d in onboarded] + [f"ed25519:{i:064x}" for i in range(440, 900)] + ["nope"]
    assert any_store.get_devices(asked) == onboarded
    assert any_store.get_devices([]) == []


def test_epoch_saved_once(any_store: Store) -> None:
    store = any_store
    record = EpochRecord(0, 0, 10, {"root": "0x1"}, {"devices": []}, owner_rewards=[("0xa", 5, 5)])
    store.save_epoch(record)
    store.save_epoch(EpochRecord(0, 0, 10, {"root": "0x2"}, {"devices": []}))
    saved = store.get_epoch(0)
    assert saved is not None and saved.manifest == {"root": "0x1"} and saved.owner_rewards == [("0xa", 5, 5)]
    assert store.epoch_numbers() == [0]


def test_epoch_manifests_a_page_at_a_time(any_store: Store) -> None:
    store = any_store
    for number in range(4):
        record = EpochRecord(number, number * 10, number * 10 + 10, {"number": number}, {"devices": []})
        store.save_epoch(record)
    assert [m["number"] for m in store.epoch_manifests(None, 10)] == [0, 1, 2, 3]
    assert [m["number"] for m in store.epoch_manifests(None, 2)] == [0, 1]
    assert [m["number"] for m in store.epoch_manifests(1, 10)] == [2, 3]
    assert store.epoch_manifests(3, 10) == []


def test_meta(any_store: Store) -> None:
    store = any_store
    assert store.get_meta("k") is None
    store.set_meta("k", "1")
    store.set_meta("k", "2")
    assert store.get_meta("k") == "2"


def test_last_seq_never_goes_down(any_store: Store) -> None:
    any_store.append([_stored(5)], [])
    any_store.append([_stored(3)], [])  # an older report stored later (idempotent replays, recovery)
    assert any_store.last_seqs() == {DEVICE.device_id: 5}


def test_migration_from_v2_carries_last_seqs(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:2], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    for i in (1, 7, 4):
        stored = _stored(i)
        db.execute(
            "INSERT INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (stored.record.report_id, DEVICE.device_id, "k", i, 100 + i, 200, stored.envelope, b"s"),
        )
    db.close()
    store = SQLiteStore(path)
    assert store.last_seqs() == {DEVICE.device_id: 7}
    store.close()


def test_epoch_verdicts_are_read_back_in_report_order_and_by_device(any_store: Store) -> None:
    """Written in (device, report) order, the table's key; read by epoch in report order, or one device's."""
    store = any_store
    devices = [f"ed25519:{d:064x}" for d in (3, 1, 2)]
    verdicts = [(f"{i:064x}", devices[i % 3], "ok" if i % 2 else "bad", {"i": i}) for i in range(12)]
    store.save_epoch(EpochRecord(0, 0, 10, {"root": "0x1"}, {"devices": []}, verdicts=verdicts))
    detail = store.get_epoch_detail(0)
    assert detail is not None and list(detail.verdicts) == verdicts
    rows = store.epoch_verdicts(0, devices[1])  # type: ignore[attr-defined]
    assert sorted(rows["report_id"]) == [f"{i:064x}" for i in range(1, 12, 3)]


def test_verdict_blocks_split_devices_and_older_epochs_keep_their_rows(
    any_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A device whose verdicts straddle blocks is read whole; an epoch saved before verdict blocks existed
    (its rows in the `verdicts` table) is read from them."""
    import opendepin.store.verdict_blocks as verdict_blocks

    monkeypatch.setattr(verdict_blocks, "VERDICT_BLOCK_ROWS", 4)
    store = any_store
    devices = [f"ed25519:{d:064x}" for d in range(3)]
    verdicts = [(f"{i:064x}", devices[min(i // 5, 2)], "ok", {"i": i}) for i in range(14)]
    store.save_epoch(EpochRecord(0, 0, 10, {"root": "0x1"}, {"devices": []}, verdicts=verdicts))
    blocks = store._query("SELECT first_device, last_device, row_count FROM verdict_blocks ORDER BY id")  # type: ignore[attr-defined]
    assert [int(n) for _, _, n in blocks] == [4, 4, 4, 2]
    for device in devices:
        mine = store.epoch_verdicts(0, device)  # type: ignore[attr-defined]
        assert sorted(mine["report_id"]) == sorted(v[0] for v in verdicts if v[1] == device)
    with store._tx() as cur:  # type: ignore[attr-defined]
        store._many(  # type: ignore[attr-defined]
            cur,
            "INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)",
            [(1, f"{i:064x}", devices[i % 2], "bad", '{"old":true}') for i in range(3)],
        )
        store._exec(cur, "INSERT INTO epochs VALUES (1, 10, 20, '{}', '{}', '{}')")  # type: ignore[attr-defined]
    detail = store.get_epoch_detail(1)
    assert detail is not None
    assert list(detail.verdicts) == [(f"{i:064x}", devices[i % 2], "bad", {"old": True}) for i in range(3)]
    assert store.epoch_verdicts(1, devices[1])["report_id"].to_list() == [f"{1:064x}"]  # type: ignore[attr-defined]


def test_migration_to_verdicts_by_device_keeps_every_verdict(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:7], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    rows = [(epoch, f"{i:064x}", f"d{i % 4}", "ok", "{}") for epoch in (0, 1) for i in range(10)]
    db.executemany("INSERT INTO verdicts VALUES (?, ?, ?, ?, ?)", rows)
    db.close()
    store = SQLiteStore(path)
    try:
        kept = store._query("SELECT epoch, report_id, device_id, reason, evidence FROM verdicts")
        assert sorted(map(tuple, kept)) == sorted(rows)
        schema = store._query("SELECT sql FROM sqlite_master WHERE name = 'verdicts'")[0][0]
        assert "PRIMARY KEY (epoch, device_id, report_id)" in schema and "WITHOUT ROWID" in schema
        assert not store._query("SELECT name FROM sqlite_master WHERE name = 'verdicts_device'")
    finally:
        store.close()


def test_devices_and_records_in_one_read(any_store: Store) -> None:
    record = {"maker_attributes": {"gain_dbi": 1.2}, "location": {"attributes": {"floor": 3}}, "sig": "0x01"}
    any_store.add_device(DEVICE, record)
    other = DeviceInfo(
        "ed25519:" + "cd" * 32, "0x" + "33" * 20, "0x" + "22" * 20, "ed25519", "8c1f1d48945d9ff", 9
    )
    any_store.add_device(other, {})
    devices, records = any_store.devices_and_records()
    assert devices == any_store.devices() and records == any_store.onboarding_records()
    assert devices[DEVICE.device_id].attributes == {"gain_dbi": 1.2, "floor": 3}
    assert records[DEVICE.device_id] == record
