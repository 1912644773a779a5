"""Live data: metrics and calibration from a tiny local-network store this test writes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from opendepin.economics.live import (
    LiveDataError,
    calibrate,
    compute_growth_per_day,
    compute_live_metrics,
    connect_read_only,
    count_activity,
    is_regular,
    read_live_data,
)
from opendepin.economics.scenarios import load_scenario
from opendepin.economics.spec import FixedSchedule

GENESIS = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
UNIT = 10**18
NETWORK_TOML = """
name = "testnet"
[token]
symbol = "TST"
[emission]
kind = "fixed"
per_year = 36500000
[epochs]
length_seconds = 86400
genesis = 2026-01-01T00:00:00Z
"""


def write_store(data_dir: Path, epochs: int = 5) -> Path:
    """Epochs of one day minting 100,000 tokens; 10 devices from genesis, 10 more from day 2; the first
    ten report every day, the others from day 2 on, and device 0 stops after day 3."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "network.toml").write_text(NETWORK_TOML)
    path = data_dir / "depin.sqlite"
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE epochs (number INTEGER PRIMARY KEY, start_ts INT, end_ts INT, manifest TEXT)"
        )
        db.execute("CREATE TABLE devices (device_id TEXT PRIMARY KEY, owner TEXT, onboarded_at INTEGER)")
        db.execute("CREATE TABLE reports (report_id TEXT PRIMARY KEY, device_id TEXT, kind TEXT, ts INTEGER)")
        for d in range(20):
            db.execute(
                "INSERT INTO devices VALUES (?, ?, ?)",
                (f"dev{d}", "0x" + "11" * 20, GENESIS + (0 if d < 10 else 2 * DAY)),
            )
        for n in range(epochs):
            start = GENESIS + n * DAY
            manifest = {
                "number": n,
                "emitted": 100_000 * UNIT,
                "totals": {"coverage": 30_000 * UNIT},
                "root": "0x00",
            }
            db.execute(
                "INSERT INTO epochs VALUES (?, ?, ?, ?)", (n, start, start + DAY, json.dumps(manifest))
            )
            for d in range(20):
                if (d >= 10 and n < 2) or (d == 0 and n > 3):
                    continue
                db.execute(
                    "INSERT INTO reports VALUES (?, ?, ?, ?)",
                    (f"r{n}-{d}", f"dev{d}", "heartbeat", start + 60),
                )
    return path


def test_live_metrics_from_the_store(tmp_path: Path) -> None:
    write_store(tmp_path)
    live = read_live_data(tmp_path)
    assert live.network_found and live.network.name == "testnet"
    metrics = compute_live_metrics(live, price_usd=0.5)
    assert metrics["minted"].to_list() == [100_000.0] * 5
    assert metrics["supply"].to_list() == [100_000.0 * k for k in range(1, 6)]
    assert metrics["burned"].sum() == 0 and metrics["revenue_usd"].sum() == 0
    assert metrics["devices_onboarded"].to_list() == [10, 10, 20, 20, 20]
    assert metrics["devices_active"].to_list() == [10, 10, 20, 20, 19]
    assert metrics["devices_lost"].to_list() == [0, 0, 0, 0, 1]
    assert metrics["tokens_per_active_device_per_day"][0] == pytest.approx(0.8 * 100_000 / 10)
    assert metrics["incentives_usd"][0] == pytest.approx(50_000)
    assert metrics["day"].to_list() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_calibrated_forecast_starts_from_the_store(tmp_path: Path) -> None:
    write_store(tmp_path)
    live = read_live_data(tmp_path)
    metrics = compute_live_metrics(live, price_usd=0.5)
    calibration = calibrate(load_scenario("bootstrap"), live, metrics)
    spec = calibration.scenario
    assert spec.emission == FixedSchedule(per_year=36_500_000)
    assert spec.start_day == 5
    assert spec.token.initial_supply == pytest.approx(500_000)
    assert spec.devices[0].initial == 20
    assert spec.sectors[0].initial_usd_per_day == 0.0
    assert calibration.observed_growth_per_day == pytest.approx(np.log(2) / 4)
    assert calibration.used_growth_per_day == pytest.approx(0.05)  # capped


def test_growth_needs_two_points() -> None:
    assert compute_growth_per_day(np.array([1.0]), np.array([5.0])) == 0.0
    assert compute_growth_per_day(np.array([0.0, 10.0]), np.array([5.0, 5.0 * np.e])) == pytest.approx(0.1)


def test_store_is_opened_read_only(tmp_path: Path) -> None:
    path = write_store(tmp_path)
    with connect_read_only(path) as db, pytest.raises(sqlite3.OperationalError, match="readonly"):
        db.execute("DELETE FROM epochs")


def test_invalid_missing_store(tmp_path: Path) -> None:
    with pytest.raises(LiveDataError, match="depin up"):
        read_live_data(tmp_path)


def test_invalid_store_without_epochs(tmp_path: Path) -> None:
    write_store(tmp_path, epochs=0)
    with pytest.raises(LiveDataError, match="no closed epoch"):
        compute_live_metrics(read_live_data(tmp_path), price_usd=1.0)


def test_irregular_epochs_are_counted_one_by_one(tmp_path: Path) -> None:
    """With a gap between epochs the grouped scan does not apply; the per-epoch counts are the same."""
    path = write_store(tmp_path)
    with sqlite3.connect(path) as db:
        db.execute("UPDATE epochs SET start_ts = start_ts + 10 WHERE number = 3")
    with connect_read_only(path) as db:
        epochs = db.execute(
            "SELECT number, start_ts, end_ts, manifest FROM epochs ORDER BY number"
        ).fetchall()
        assert not is_regular(epochs)
        assert count_activity(db, epochs)[4] == (19, 19)
    assert compute_live_metrics(read_live_data(tmp_path), 1.0)["devices_active"].to_list() == [
        10,
        10,
        20,
        20,
        19,
    ]


def test_regular_epochs_use_one_grouped_scan(tmp_path: Path) -> None:
    path = write_store(tmp_path)
    with connect_read_only(path) as db:
        epochs = db.execute(
            "SELECT number, start_ts, end_ts, manifest FROM epochs ORDER BY number"
        ).fetchall()
        assert is_regular(epochs)
        assert count_activity(db, epochs) == {0: (10, 10), 1: (10, 10), 2: (20, 20), 3: (20, 20), 4: (19, 19)}
