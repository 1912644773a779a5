"""The storage sector through the node: `depin up` on examples/storage.toml onboards providers with their
prefix and capacity, the fleet's client buys credits and pays each piece with a countersigned byte-hours
receipt, places real zfec pieces, the node issues hourly audits, providers answer them, and the epoch pays
the honest ones and names the fleet's deleter and rotter."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import cbor2

from opendepin.up import UpOptions, run_network

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "storage.toml"


def test_depin_up_runs_the_storage_network(tmp_path: Path) -> None:
    summary = run_network(
        UpOptions(
            data_dir=tmp_path / "net",
            epochs=1,
            devices=30,
            misbehaving_share=0.4,
            network=EXAMPLE,
            chain="embedded",
        )
    )
    assert summary["network"] == "storage-net"
    assert {"storage-deleter", "storage-rotter"} <= set(summary["behaviours"])
    (epoch,) = summary["epochs"]
    assert epoch["invalid"].get("storage.missing", 0) >= 1
    assert epoch["invalid"].get("storage.corrupt", 0) >= 1
    assert epoch["rewarded_devices"] >= summary["behaviours"]["honest"] // 2
    assert int(epoch["totals"]["storage"]) > 0
    assert "storage.unpaid_piece" not in epoch["invalid"]
    with sqlite3.connect(tmp_path / "net" / "depin.sqlite") as db:
        receipts = {
            rid: cbor2.loads(blob)
            for rid, blob in db.execute("SELECT receipt_id, receipt FROM usage_receipts")
        }
        puts = [
            cbor2.loads(envelope)
            for (envelope,) in db.execute("SELECT envelope FROM reports WHERE kind = 'storage.put'")
        ]
    assert len(puts) >= 30
    for envelope in puts:  # every registered piece names the accepted receipt that pays it (30 days)
        receipt = receipts[envelope["payload"]["receipt"]]
        assert receipt["unit"] == "byte_hours" and receipt["device"] == envelope["device"]
        assert receipt["quantity"] == envelope["payload"]["size"] * 720
