"""`depin explain` names the cause for every misbehaviour of the simulated fleet, and shows the arithmetic
from the pool, the device's units and the total units to the amount (in tokens, with the symbol)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from opendepin.cli import app
from opendepin.fleet.simulator import Fleet

runner = CliRunner()
CAUSES = {
    "bad-signature": {"signature.invalid"},
    "clock-skew": {"report.future", "report.stale"},
    "replayer": {"report.replay", "report.duplicate"},
    "gps-far": {"heartbeat.location_too_far"},
    "lazy": {"wireless.insufficient_heartbeats"},
    "malformed": {"report.malformed"},
    "unregistered": {"device.unknown"},
}


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A 40-device network run for one epoch; (data dir, behaviour → one device id of it)."""
    data = tmp_path_factory.mktemp("explain") / "data"
    result = runner.invoke(app, ["up", "--epochs", "1", "--devices", "40", "--json", "--data-dir", str(data)])
    assert result.exit_code == 0, result.output[-3000:]
    fleet = Fleet.load(data / "fleet.json")
    devices: dict[str, str] = {}
    for device in fleet.devices:
        devices.setdefault(device.behaviour, fleet.key_of(device).device_id)
    return data, devices


def _explain(data: Path, device: str, *extra: str) -> str:
    result = runner.invoke(app, ["explain", device, "--epoch", "0", "--data-dir", str(data), *extra])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("behaviour", sorted(CAUSES))
def test_explain_names_the_cause_of_each_misbehaviour(
    network: tuple[Path, dict[str, str]], behaviour: str
) -> None:
    data, devices = network
    assert behaviour in devices, f"the fleet has no {behaviour} device: {sorted(devices)}"
    detail: dict[str, Any] = json.loads(_explain(data, devices[behaviour], "--json"))
    named = {cause["reason"] for cause in detail["causes"]}
    assert named & CAUSES[behaviour], (behaviour, detail["causes"])
    text = _explain(data, devices[behaviour])
    assert any(code in text for code in CAUSES[behaviour]), text
    assert " ODP from " in text  # the amount, in tokens with the symbol


def test_explain_shows_the_arithmetic_in_tokens(network: tuple[Path, dict[str, str]]) -> None:
    data, devices = network
    detail = json.loads(_explain(data, devices["honest"], "--json"))
    assert detail["amount"] > 0 and detail["arithmetic"]
    for row in detail["arithmetic"]:
        assert row["pro_rata"] == row["pool"] * row["units"] // row["total_units"]
        assert row["pool"] == detail["pools"][row["category"]]
        assert row["total_units"] == detail["total_units"][row["category"]]
    assert detail["amount"] == sum(row["amount"] for row in detail["arithmetic"])
    text = _explain(data, devices["honest"])
    assert "⌊pool × device units ÷ total units⌋" in text and " ODP × " in text and "total units = " in text
    raw = _explain(data, devices["honest"], "--raw")
    assert f"earned {detail['amount']} units" in raw


def test_a_device_without_units_still_shows_the_pool_and_the_total(
    network: tuple[Path, dict[str, str]],
) -> None:
    data, devices = network
    detail = json.loads(_explain(data, devices["lazy"], "--json"))
    assert detail["amount"] == 0
    assert any(
        row["units"] == 0 and row["total_units"] > 0 and row["pool"] > 0 for row in detail["arithmetic"]
    )


def test_an_unknown_device_and_an_open_epoch_are_errors_that_say_what_to_do(
    network: tuple[Path, dict[str, str]],
) -> None:
    data, _ = network
    missing = runner.invoke(app, ["explain", "ed25519:" + "00" * 32, "--epoch", "0", "--data-dir", str(data)])
    assert missing.exit_code == 2 and "depin devices list" in missing.output
    not_closed = runner.invoke(
        app, ["explain", "ed25519:" + "00" * 32, "--epoch", "5", "--data-dir", str(data)]
    )
    assert not_closed.exit_code == 2 and "not closed" in not_closed.output


def test_owners_by_keystore_name(network: tuple[Path, dict[str, str]]) -> None:
    """`devices list --owner owner-N` and `epoch proof N owner-N` take the fleet owners' keystore names."""
    data, _ = network
    listed = runner.invoke(app, ["devices", "list", "--owner", "owner-0", "--json", "--data-dir", str(data)])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)["devices"]
    assert rows and len({row["owner"] for row in rows}) == 1
    address = rows[0]["owner"]
    by_address = runner.invoke(
        app, ["devices", "list", "--owner", address.lower(), "--ids", "--data-dir", str(data)]
    )
    assert by_address.output.split() == [row["device_id"] for row in rows]
    unknown = runner.invoke(app, ["devices", "list", "--owner", "nobody", "--data-dir", str(data)])
    assert unknown.exit_code == 2 and "owner-0" in unknown.output
    proof = runner.invoke(app, ["epoch", "proof", "0", "owner-0", "--data-dir", str(data)])
    assert proof.exit_code == 0 and json.loads(proof.output)["account"] == address, proof.output
