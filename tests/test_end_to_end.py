"""`depin up` end to end in a subprocess, then `depin epoch verify`, then a restart that continues."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEPIN = [sys.executable, "-m", "opendepin"]


def _depin(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*DEPIN, *args], capture_output=True, text=True, timeout=600)


def test_up_verify_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "net")
    run = _depin("up", "--epochs", "2", "--devices", "30", "--json", "--data-dir", data)
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    epochs = summary["epochs"]
    assert [e["number"] for e in epochs] == [0, 1]
    for epoch in epochs:
        assert epoch["root"].startswith("0x") and len(epoch["root"]) == 66
        assert int(epoch["emitted"]) > 0 and epoch["accepted"] > 0 and epoch["rewarded_devices"] > 0
        assert epoch["rejected"]["signature.invalid"] > 0
    for number in ("0", "1"):
        verify = _depin("epoch", "verify", number, "--data-dir", data)
        assert verify.returncode == 0 and "match" in verify.stdout, verify.stdout + verify.stderr
    manifest = json.loads(_depin("epoch", "show", "1", "--json", "--data-dir", data).stdout)
    owner = manifest["leaves"][0][0]
    proof = json.loads(_depin("epoch", "proof", "1", owner, "--data-dir", data).stdout)
    assert proof["root"] == manifest["root"] and proof["cumulative"] == manifest["leaves"][0][1]
    # settlement on the embedded chain: roots posted, a share of owners claimed, supply = what was claimed
    assert set(summary["contracts"]) == {
        "Timelock",
        "Token",
        "PriceOracle",
        "DataCredits",
        "DeviceRegistry",
        "RewardsDistributor",
    }
    assert summary["gas"]["post_epoch"] > 0 and summary["gas"]["claim"] > 0
    # the supply is the operator's treasury (minted at deployment) and what owners claimed of the epochs' pay
    treasury = int(summary["treasury"])
    assert treasury > 0 and int(summary["total_supply"]) == treasury + int(summary["total_claimed"])
    assert 0 < int(summary["total_claimed"]) <= sum(int(e["paid"]) for e in epochs)
    assert [e["settlement"] for e in epochs] == ["posted", "posted"]
    # a crash after closing epoch 1 but before settling it: the restart settles it first
    import sqlite3

    db = sqlite3.connect(Path(data) / "depin.sqlite")
    db.execute("UPDATE meta SET value = '1' WHERE key = 'chain_settled_until'")
    db.commit()
    db.close()
    again = _depin("up", "--epochs", "1", "--json", "--data-dir", data)
    assert again.returncode == 0, again.stderr
    resumed = json.loads(again.stdout)
    assert [(e["number"], e["settlement"], e.get("recovered", False)) for e in resumed["epochs"]] == [
        (1, "already_posted", True),
        (2, "posted", False),
    ]
    assert resumed["onboarded_now"] == 0 and resumed["contracts"] == summary["contracts"]
    assert int(resumed["total_supply"]) >= int(summary["total_supply"])
    # the README's purchase: a fresh price, then the operator buys credits from its treasury (no --buyer)
    assert _depin("chain", "price", "--usd", "1", "--data-dir", data).returncode == 0
    bought = _depin("credits", "buy", "--usd", "5", "--json", "--data-dir", data)
    assert bought.returncode == 0, bought.stderr
    purchase = json.loads(bought.stdout)
    assert purchase["credits"] == 500_000 and int(purchase["tokens_burned"]) == 5 * 10**18


def test_verify_unknown_data_dir_is_clear(tmp_path: Path) -> None:
    result = _depin("epoch", "verify", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "depin init" in result.stderr


@pytest.mark.integration
def test_up_on_anvil(tmp_path: Path) -> None:
    """The same network settling on a real JSON-RPC node (anvil from npm, started on loopback)."""
    from opendepin.chain.anvil import AnvilNode

    with AnvilNode.start() as anvil:
        run = _depin(
            "up",
            "--epochs",
            "2",
            "--devices",
            "20",
            "--json",
            "--data-dir",
            str(tmp_path / "net"),
            "--chain",
            "rpc",
            "--rpc-url",
            anvil.url,
        )
        assert run.returncode == 0, run.stderr
        summary = json.loads(run.stdout)
        assert [e["settlement"] for e in summary["epochs"]] == ["posted", "posted"]
        assert summary["gas"]["post_epoch"] > 0
        claimed = int(summary["total_claimed"])
        assert claimed > 0 and int(summary["total_supply"]) == int(summary["treasury"]) + claimed
        code = anvil.request("eth_getCode", [summary["contracts"]["RewardsDistributor"], "latest"])
        assert len(code) > 2
