"""Closing, exporting and auditing epochs: every stored table is checked, a bundle verifies alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from opendepin.clock import SimulatedClock
from opendepin.identity.keys import DeviceKey
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.audit import verify_bundle
from opendepin.rewards.bundle import BundleError, decode_bundle, encode_bundle
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST
from opendepin.store.sqlite import SQLiteStore
from opendepin.store.verdict_blocks import decode_verdict_blocks, encode_verdict_blocks
from tests.conftest import onboard_request

KEYS = [DeviceKey("ed25519", bytes([i + 1]) * 32) for i in range(3)] + [DeviceKey("p256", b"\x07" * 32)]


def _send_day(node: Node, clock: SimulatedClock, day: int) -> None:
    """Devices 0, 1, 3 report every hour (device 1 from 2 km away); device 2 only three times."""
    start = node.config.epochs.genesis_ts + day * 86_400
    for hour in range(24):
        ts = start + hour * 3_600 + 700
        clock.set(ts + 5)
        wires = []
        for index, key in enumerate(KEYS):
            if index == 2 and hour > 2:
                continue
            lat = 52.5201 if index != 1 else 52.5381
            wires.append(sign_report(key, HEARTBEAT, ts, ts * 16, {"lat": lat, "lon": 13.4051}).to_wire())
            if hour % 4 == 0:
                test = {"download_mbps": 120.5, "upload_mbps": 12, "latency_ms": 30}
                wires.append(sign_report(key, SPEEDTEST, ts, ts * 16 + 1, test).to_wire())
        wires.append(b"\x82garbage")
        node.ingest(wires)


@pytest.fixture
def closed(node: Node, clock: SimulatedClock) -> Iterator[Node]:
    for index, key in enumerate(KEYS):
        node.onboard(
            onboard_request(
                node.config.name,
                key,
                maker_attributes={"mode": "full"},
                owner_attributes={"gain_dbi": 1.2 + index},
            )
        )
    for day in range(2):
        _send_day(node, clock, day)
        clock.set(node.config.epochs.genesis_ts + (day + 1) * 86_400 + node.config.epochs.lateness_seconds)
        node.close_due_epochs()
    assert node.next_epoch == 2
    yield node


def test_a_closed_epoch_audits_clean(closed: Node) -> None:
    for number in (0, 1):
        report = closed.audit_epoch(number)
        assert report.matches, (report.input_problems, [d.describe() for d in report.differences])
    manifest = closed.store.get_epoch(1)
    assert manifest is not None
    assert manifest.manifest["ingest_rejections"] == {"report.malformed": 24}
    assert manifest.manifest["device_notes_by_reason"] == {"wireless.insufficient_heartbeats": 2}


DAY_1 = 1_767_225_600 + 86_400


def _bump(table: str, column: str, where: str) -> str:
    """Add one to a TEXT column holding a big integer (done in Python: SQLite's integers are 64-bit)."""
    return f"python:{table}:{column}:{where}"


TAMPERING = [
    ("device_rewards", _bump("device_rewards", "amount", "epoch = 1 AND amount != '0'")),
    ("device_rewards", "UPDATE device_rewards SET breakdown = '{}' WHERE epoch = 1"),
    ("verdicts", "blocks:ok"),  # a refused report's verdict rewritten as accepted
    ("verdicts", "blocks:drop"),  # a verdict gone
    ("device_notes", "DELETE FROM device_notes WHERE epoch = 1"),
    ("owner_rewards", _bump("owner_rewards", "cumulative", "epoch = 1")),
    ("manifest", "UPDATE epochs SET manifest = REPLACE(manifest, '\"paid\":', '\"paid\":9') WHERE number=1"),
    ("sector_state", 'UPDATE epochs SET sector_state = \'{"wireless":{"x":1}}\' WHERE number = 1'),
    (
        "manifest",
        f"UPDATE reports SET received_at = received_at + 400 WHERE rowid IN "
        f"(SELECT rowid FROM reports WHERE ts >= {DAY_1} LIMIT 1)",
    ),
    ("manifest", "UPDATE epochs SET inputs = REPLACE(inputs, '\"gain_dbi\":1.2', '\"gain_dbi\":9.2')"),
    ("manifest", "DELETE FROM rejection_counts"),
    # the previous epoch's rows are this epoch's inputs
    ("manifest", _bump("owner_rewards", "cumulative", "epoch = 0")),
]


def _tamper_verdict_blocks(store: SQLiteStore, how: str) -> int:
    """Rewrite epoch 1's verdict blocks: one refusal made `ok` (`ok`), or its first verdict dropped."""
    for block_id, block in store._db.execute(
        "SELECT id, block FROM verdict_blocks WHERE epoch = 1"
    ).fetchall():
        frame = decode_verdict_blocks([block])
        if how == "ok":
            refused = frame["reason"] != "ok"
            if not refused.any():
                continue
            frame = frame.with_columns(reason=pl.when(refused).then(pl.lit("ok")).otherwise(pl.col("reason")))
        else:
            frame = frame.slice(1)
        (tampered,) = encode_verdict_blocks(frame)
        store._db.execute("UPDATE verdict_blocks SET block = ? WHERE id = ?", (tampered.data, block_id))
        return 1
    return 0


def _tamper(store: SQLiteStore, statement: str) -> int:
    if statement.startswith("blocks:"):
        return _tamper_verdict_blocks(store, statement.split(":")[1])
    if not statement.startswith("python:"):
        return int(store._db.execute(statement).rowcount)
    _, table, column, where = statement.split(":", 3)
    rows = store._db.execute(f"SELECT rowid, {column} FROM {table} WHERE {where}").fetchall()
    for rowid, value in rows[:1]:
        store._db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (str(int(value) + 1), rowid))
    return len(rows[:1])


@pytest.mark.parametrize(("table", "statement"), TAMPERING)
def test_tampering_with_any_stored_table_is_named(
    closed: Node, store: SQLiteStore, table: str, statement: str
) -> None:
    with store._db:
        changed = _tamper(store, statement)
    assert changed > 0, statement
    report = closed.audit_epoch(1)
    assert not report.matches
    assert table in {d.table for d in report.differences}, [d.describe() for d in report.differences]


def test_a_tampered_onboarding_record_is_an_input_problem(closed: Node, store: SQLiteStore) -> None:
    with store._db:
        store._db.execute('UPDATE epochs SET inputs = REPLACE(inputs, \'"mode":"full"\', \'"mode":"x"\')')
    report = closed.audit_epoch(1)
    assert any("attributes differ" in p or "maker signature" in p for p in report.input_problems)


def test_a_tampered_signature_is_an_input_problem(closed: Node, store: SQLiteStore) -> None:
    with store._db:
        store._db.execute(
            "UPDATE reports SET signature = zeroblob(64) WHERE rowid IN (SELECT rowid FROM reports LIMIT 1)"
        )
    report = closed.audit_epoch(0) if not closed.audit_epoch(1).input_problems else closed.audit_epoch(1)
    assert any("signature does not verify" in p for p in report.input_problems)


def test_the_bundle_is_deterministic_and_verifies_alone(closed: Node, tmp_path: Path) -> None:
    data = closed.export_epoch(1)
    assert closed.export_epoch(1) == data
    bundle = decode_bundle(data)
    assert encode_bundle(bundle) == data
    assert len(bundle.reports) == closed.store.count_reports(bundle.window.start, bundle.window.end)
    assert bundle.outputs.manifest == closed.store.get_epoch(1).manifest  # type: ignore[union-attr]
    report = verify_bundle(bundle)
    assert report.matches and report.reports == len(bundle.reports)


def test_one_changed_byte_of_a_signed_report_fails(closed: Node) -> None:
    data = closed.export_epoch(1)
    bundle = decode_bundle(data)
    first = bundle.reports[0]
    envelope = bytearray(first.envelope)
    envelope[-3] ^= 0x01
    needle = bytes(first.envelope)
    altered = data.replace(needle, bytes(envelope), 1)
    try:
        report = verify_bundle(decode_bundle(altered))
    except BundleError:
        return
    assert not report.matches


def test_every_single_byte_flip_is_caught(closed: Node) -> None:
    data = closed.export_epoch(0)
    step = max(1, len(data) // 60)
    for offset in range(0, len(data), step):
        altered = bytearray(data)
        altered[offset] ^= 0x01
        try:
            report = verify_bundle(decode_bundle(bytes(altered)))
        except BundleError:
            continue
        assert not report.matches, offset


def test_the_node_serves_the_bundle(closed: Node) -> None:
    from fastapi.testclient import TestClient

    from opendepin.api.app import create_app
    from opendepin.rewards.bundle import bundle_sha256

    client = TestClient(create_app(closed))
    response = client.get("/v1/epochs/1/bundle")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/cbor"
    assert response.content == closed.export_epoch(1)
    assert response.headers["x-bundle-sha256"] == bundle_sha256(response.content)
    assert verify_bundle(decode_bundle(response.content)).matches
    assert client.get("/v1/epochs/7/bundle").status_code == 404
