"""`depin up` end to end in a subprocess, then `depin epoch verify`, then a restart that continues."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
    again = _depin("up", "--epochs", "1", "--json", "--data-dir", data)
    assert again.returncode == 0, again.stderr
    assert [e["number"] for e in json.loads(again.stdout)["epochs"]] == [2]
    assert json.loads(again.stdout)["onboarded_now"] == 0


def test_verify_unknown_data_dir_is_clear(tmp_path: Path) -> None:
    result = _depin("epoch", "verify", "0", "--data-dir", str(tmp_path))
    assert result.returncode == 2 and "depin init" in result.stderr
