"""`depin up` on the example weather network: the fleet's stations onboard with the sector's attributes,
send their observations and fixes, and are paid; the copied-channel and frozen stations are caught."""

from __future__ import annotations

from pathlib import Path

from opendepin.up import UpOptions, run_network

EXAMPLE = Path(__file__).resolve().parents[4] / "examples" / "weather.toml"


def test_depin_up_pays_weather_stations(tmp_path: Path) -> None:
    summary = run_network(
        UpOptions(
            data_dir=tmp_path / "net",
            epochs=1,
            devices=20,
            misbehaving_share=0.4,
            network=EXAMPLE,
            chain="none",
        )
    )
    assert summary["network"] == "weather-net"
    (epoch,) = summary["epochs"]
    assert epoch["rewarded_devices"] >= 8 and int(epoch["paid"]) > 0
    assert epoch["accepted"] > 20 * 400
    assert set(epoch["invalid"]) & {"sensors.ab_identical", "sensors.constant_short", "sensors.spike"}
