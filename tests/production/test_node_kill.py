"""Fault suite, the node: a real `depin serve` killed with SIGKILL (its whole process group: the node, its
epoch process) in the middle of closing an epoch, after the reward rows are written and before the
manifest row that commits them, and in the middle of settling, after a credit spend is on chain and before
the node has recorded it.

- Mid-close: nothing of the epoch is visible after the kill (the manifest row is the commit point of one
  transaction); the restarted node closes it again, and its manifest (root included) is byte-identical to
  the one an undisturbed copy of the same data dir closes.
- Mid-settlement: the restarted node finds the spend on chain and records it: the payer is charged once,
  the chain holds one spend for the epoch, the epoch is settled.

The fault is injected by a test hook outside the package: a `sitecustomize.py` on the served process's
PYTHONPATH (every process it spawns loads it too) that wraps one function and SIGKILLs the process group at
the chosen point when `DEPIN_TEST_KILL_AT` names it. Nothing in `opendepin` knows of it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opendepin.chain.deploy import ensure_deployed
from opendepin.chain.factory import open_backend
from opendepin.clock import SimulatedClock
from opendepin.config import load_config
from opendepin.identity.keys import DeviceKey
from opendepin.identity.keystore import FAST_KDF_ENV
from opendepin.identity.wallets import Wallet
from opendepin.market.receipts import UsageReceipt, sign_receipt
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.digest import canonical_json
from opendepin.settlement import INFLIGHT_KEY, SETTLED_KEY, usage_tag
from opendepin.store.factory import open_store
from opendepin.template import write_template
from tests.conftest import MAKER, onboard_request
from tests.production.servers import free_port

HOOK = """
import os
import signal

_point = os.environ.get("DEPIN_TEST_KILL_AT")


def _die():
    os.killpg(os.getpgrp(), signal.SIGKILL)


if _point == "before_manifest":
    from opendepin.store import sql

    _exec = sql.SQLStore._exec

    def _exec_then_die(self, cursor, statement, params=()):
        if statement.lstrip().startswith("INSERT INTO epochs"):
            _die()
        return _exec(self, cursor, statement, params)

    sql.SQLStore._exec = _exec_then_die
elif _point == "after_spend_broadcast":
    from opendepin.chain import embedded

    _spend = embedded.EmbeddedBackend.spend_credits

    def _spend_then_die(self, *args, **kwargs):
        receipt = _spend(self, *args, **kwargs)
        _die()
        return receipt

    embedded.EmbeddedBackend.spend_credits = _spend_then_die
"""
HOUR = 3600
HEARTBEAT = {"lat": 52.52, "lon": 13.405}
UNIT = 10**18
USER = Wallet(bytes.fromhex("77" * 32))
SPEED = {"download_mbps": 200.0, "upload_mbps": 30.0, "latency_ms": 20.0}


def _network(directory: Path, chain: str) -> tuple[Path, int]:
    """A network of one-hour epochs whose epoch 0 ended an hour ago (epoch 1 still open), with devices
    and heartbeats in epoch 0; returns (data dir, genesis)."""
    now = int(time.time())
    genesis = now - now % 60 - 2 * HOUR + 120
    write_template(directory, makers={"m": MAKER.address}, genesis=datetime.fromtimestamp(genesis, UTC))
    path = directory / "network.toml"
    text = path.read_text().replace("length_seconds = 86400", f"length_seconds = {HOUR}")
    text = text.replace("lateness_seconds = 600", "lateness_seconds = 0")
    path.write_text(text.replace('kind = "embedded"', f'kind = "{chain}"'))
    config = load_config(path)
    store = open_store(config.store, directory)
    clock = SimulatedClock(genesis + 60)
    node = Node(config, store, clock)
    keys = [DeviceKey("ed25519", bytes([17, i]) + b"\x06" * 30) for i in range(3)]
    for key in keys:
        node.onboard(onboard_request(config.name, key))
    for minute in range(2, 50, 6):
        clock.set(genesis + minute * 60)
        now = clock.now()
        wires = [sign_report(k, "wireless.heartbeat", now, minute * 10, HEARTBEAT).to_wire() for k in keys]
        if minute < 10:
            wires += [
                sign_report(k, "wireless.speedtest", now, minute * 10 + 1, SPEED).to_wire() for k in keys
            ]
        assert all(r.accepted for r in node.ingest(wires))
    store.close()
    return directory, genesis


def _serve(data: Path, log: Path, kill_at: str | None = None) -> subprocess.Popen[bytes]:
    hooks = data.parent / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(HOOK)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        FAST_KDF_ENV: "1",
        "PYTHONPATH": os.pathsep.join([str(hooks), *sys.path]),
    }
    if kill_at is not None:
        env["DEPIN_TEST_KILL_AT"] = kill_at
    command = [
        sys.executable,
        "-m",
        "opendepin",
        "serve",
        "--data-dir",
        str(data),
        "--port",
        str(free_port()),
    ]
    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )


def _stored_epoch(data: Path) -> dict[str, object] | None:
    config = load_config(data / "network.toml")
    store = open_store(config.store, data)
    try:
        record = store.get_epoch(0)
        rows = store._query("SELECT COUNT(*) FROM owner_rewards WHERE epoch = 0")[0][0]
        return None if record is None else {"manifest": dict(record.manifest), "owner_rows": rows}
    finally:
        store.close()


def _wait_closed(data: Path, process: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 180
    while (found := _stored_epoch(data)) is None:
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.5)
    return found


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


def test_a_node_killed_mid_close_closes_the_epoch_again_byte_identical(tmp_path: Path) -> None:
    data, _ = _network(tmp_path / "net", "none")
    undisturbed = tmp_path / "copy" / "net"
    shutil.copytree(data, undisturbed)
    log = tmp_path / "serve.log"
    doomed = _serve(data, log, kill_at="before_manifest")
    assert doomed.wait(timeout=180) == -signal.SIGKILL, log.read_text()[-3000:]
    assert _stored_epoch(data) is None  # reward rows written before the kill were never committed
    config = load_config(data / "network.toml")
    store = open_store(config.store, data)
    assert store._query("SELECT COUNT(*) FROM owner_rewards")[0][0] == 0
    store.close()
    again = _serve(data, log)
    try:
        closed = _wait_closed(data, again, log)
    finally:
        _stop(again)
    reference_log = tmp_path / "reference.log"
    reference = _serve(undisturbed, reference_log)
    try:
        expected = _wait_closed(undisturbed, reference, reference_log)
    finally:
        _stop(reference)
    manifest, reference_manifest = closed["manifest"], expected["manifest"]
    assert isinstance(manifest, dict) and isinstance(reference_manifest, dict)
    assert manifest["root"] is not None and closed["owner_rows"] == expected["owner_rows"] != 0
    assert canonical_json(manifest) == canonical_json(reference_manifest)  # the root and everything else


def test_a_node_killed_after_a_spend_broadcast_finds_it_on_chain_and_never_sends_it_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FAST_KDF_ENV, "1")
    data, genesis = _network(tmp_path / "net", "embedded")
    config = load_config(data / "network.toml")
    backend = open_backend(data, config.chain)
    ensure_deployed(backend, config, genesis_amount=1_000 * UNIT)
    assert backend.buy_credits("0.5", recipient=USER.address).credits == 50_000
    store = open_store(config.store, data)
    node = Node(config, store, SimulatedClock(genesis + 3000))
    node.use_chain(backend.latest_block_hash, backend.oracle_price_wad, backend.credits_of)
    device = DeviceKey("ed25519", bytes([17, 0]) + b"\x06" * 30).device_id
    receipt = UsageReceipt("wireless", device, USER.address, 30_000, 1, "bytes", "s1", genesis + 3000)
    assert [r.reason for r in node.record_usage([sign_receipt(receipt, USER.sign_text).to_wire()])] == [
        "accepted"
    ]
    store.close()
    backend.close()
    log = tmp_path / "serve.log"
    doomed = _serve(data, log, kill_at="after_spend_broadcast")
    assert doomed.wait(timeout=300) == -signal.SIGKILL, log.read_text()[-3000:]
    store = open_store(config.store, data)
    try:
        inflight = json.loads(store.get_meta(INFLIGHT_KEY) or "{}")
        assert inflight.get("credits") == 30_000 and store.get_meta(SETTLED_KEY) in (None, "0")
    finally:
        store.close()
    again = _serve(data, log)
    try:
        deadline = time.monotonic() + 180
        while "was in flight at the last stop" not in log.read_text() or not _settled(data):
            assert again.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
    finally:
        _stop(again)
    assert "found on chain, recorded (not sent again)" in log.read_text()
    backend = open_backend(data, config.chain)
    try:
        assert backend.credits_of(USER.address) == 20_000  # charged once
        assert backend.credit_spend_found(USER.address, 30_000, usage_tag(0))
        call = backend._abi("DataCredits").encode_call("spend", USER.address, 30_000, usage_tag(0)).hex()
        journal = backend.journal_path.read_text().lower()
        assert journal.count(call) == 1  # the spend is on chain once: never sent twice
    finally:
        backend.close()


def _settled(data: Path) -> bool:
    config = load_config(data / "network.toml")
    store = open_store(config.store, data)
    try:
        return store.get_meta(SETTLED_KEY) == "1" and not store.get_meta(INFLIGHT_KEY)
    finally:
        store.close()
