"""The storage sector through the node: `depin up` on examples/storage.toml onboards providers with their
prefix and capacity, the fleet places real zfec pieces, the node issues hourly audits, providers answer
them, and the epoch pays the honest ones and names the fleet's deleter and rotter."""

from __future__ import annotations

from pathlib import Path

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
            chain="none",
        )
    )
    assert summary["network"] == "storage-net"
    assert {"storage-deleter", "storage-rotter"} <= set(summary["behaviours"])
    (epoch,) = summary["epochs"]
    assert epoch["invalid"].get("storage.missing", 0) >= 1
    assert epoch["invalid"].get("storage.corrupt", 0) >= 1
    assert epoch["rewarded_devices"] >= summary["behaviours"]["honest"] // 2
    assert int(epoch["totals"]["storage"]) > 0
