"""The node shell: epoch closing rules, recomputation, tamper detection, no partial epoch after a crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from opendepin.clock import SimulatedClock
from opendepin.identity.attestation import OnboardingError
from opendepin.identity.keys import DeviceKey
from opendepin.identity.wallets import Wallet
from opendepin.node import EpochNotDue, Node
from opendepin.reports.envelope import sign_report
from opendepin.rewards.digest import canonical_json
from opendepin.sectors.wireless.reports import HEARTBEAT, SPEEDTEST
from opendepin.store.sqlite import SQLiteStore
from tests.conftest import onboard_request


def _run_day(node: Node, clock: SimulatedClock, key: DeviceKey) -> None:
    start = clock.now()
    for hour in range(24):
        ts = start + hour * 3600 + 30
        clock.set(ts)
        wires = [sign_report(key, HEARTBEAT, ts, ts * 16, {"lat": 52.5201, "lon": 13.4051}).to_wire()]
        if hour % 4 == 0:
            wires.append(
                sign_report(
                    key,
                    SPEEDTEST,
                    ts,
                    ts * 16 + 1,
                    {"download_mbps": 120, "upload_mbps": 12, "latency_ms": 30},
                ).to_wire()
            )
        assert all(r.accepted for r in node.ingest(wires))


def _day_due(node: Node, clock: SimulatedClock, key: DeviceKey) -> None:
    """A device onboarded, a day of its reports, and the clock past that day's epoch."""
    node.onboard(onboard_request(node.config.name, key))
    _run_day(node, clock, key)
    clock.set(clock.now() + 86_400)


def test_epoch_closes_only_after_cutoff(node: Node, clock: SimulatedClock, device_key: DeviceKey) -> None:
    node.onboard(onboard_request(node.config.name, device_key))
    _run_day(node, clock, device_key)
    with pytest.raises(EpochNotDue):
        node.close_epoch(0)
    with pytest.raises(EpochNotDue):
        node.close_epoch(1)
    clock.set(node.config.epochs.genesis_ts + 86_400 + node.config.epochs.lateness_seconds)
    record = node.close_epoch(0)
    assert record.manifest["rewarded_devices"] == 1
    assert node.close_epoch(0).manifest == record.manifest  # idempotent
    stored, recomputed = node.verify_epoch(0)
    assert canonical_json(stored) == canonical_json(recomputed)
    late = sign_report(device_key, HEARTBEAT, clock.now() - 1_000, 10**12, {"lat": 52.52, "lon": 13.4})
    assert node.ingest([late.to_wire()])[0].reason == "report.epoch_closed"


def test_tampering_is_detected(
    node: Node, clock: SimulatedClock, device_key: DeviceKey, store: SQLiteStore
) -> None:
    _day_due(node, clock, device_key)
    node.close_due_epochs()
    store._db.execute("DELETE FROM reports WHERE rowid IN (SELECT rowid FROM reports LIMIT 1)")
    stored, recomputed = node.verify_epoch(0)
    assert stored["inputs_digest"] != recomputed["inputs_digest"]


def test_crash_while_saving_epoch_leaves_no_partial_rows(
    node: Node, clock: SimulatedClock, device_key: DeviceKey, store: SQLiteStore
) -> None:
    _day_due(node, clock, device_key)
    store._db.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON epochs BEGIN SELECT RAISE(ABORT, 'disk gone'); END"
    )
    with pytest.raises(sqlite3.IntegrityError):
        node.close_epoch(0)
    for table in ("verdict_blocks", "verdicts", "device_rewards", "owner_rewards", "device_notes", "epochs"):
        assert store._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0
    store._db.execute("DROP TRIGGER boom")
    restarted = Node(node.config, store, clock)
    assert restarted.close_epoch(0).manifest["rewarded_devices"] == 1


def test_stored_log_recheck(
    node: Node, clock: SimulatedClock, device_key: DeviceKey, store: SQLiteStore
) -> None:
    node.onboard(onboard_request(node.config.name, device_key))
    _run_day(node, clock, device_key)
    assert node.check_stored_reports(0) == []
    store._db.execute("UPDATE reports SET signature = X'00' WHERE rowid = 1")
    (bad,) = node.check_stored_reports(0)
    assert store._db.execute("SELECT report_id FROM reports WHERE rowid = 1").fetchone()[0] == bad


@pytest.mark.integration
def test_same_epoch_on_postgres(node: Node, clock: SimulatedClock, device_key: DeviceKey) -> None:
    """The production store gives the byte-identical manifest the embedded one gives."""
    from tests.store.pg import postgres_store

    node.onboard(onboard_request(node.config.name, device_key))
    with postgres_store() as pg:
        pg_clock = SimulatedClock(clock.now())
        pg_node = Node(node.config, pg, pg_clock)
        pg_node.onboard(onboard_request(node.config.name, device_key))
        _run_day(node, clock, device_key)
        _run_day(pg_node, pg_clock, device_key)
        for n, c in ((node, clock), (pg_node, pg_clock)):
            c.set(n.config.epochs.genesis_ts + 86_400 + 600)
        sqlite_manifest = node.close_epoch(0).manifest
        pg_manifest = pg_node.close_epoch(0).manifest
        assert canonical_json(pg_manifest) == canonical_json(sqlite_manifest)
        stored, recomputed = pg_node.verify_epoch(0)
        assert canonical_json(stored) == canonical_json(recomputed)
        assert pg_node.check_stored_reports(0) == []


def test_onboarding_stores_signed_attributes(node: Node, device_key: DeviceKey) -> None:
    request = onboard_request(
        node.config.name, device_key, maker_attributes={"region": "EU868"}, owner_attributes={"gain_dbi": 5.8}
    )
    device = node.onboard(request)
    assert device.attributes == {"region": "EU868", "gain_dbi": 5.8}
    stored = node.store.get_device(device_key.device_id)
    assert stored is not None and stored.attributes == {"region": "EU868", "gain_dbi": 5.8}
    record = node.store.onboarding_records()[device_key.device_id]
    assert record["location"]["attributes"] == {"gain_dbi": 5.8}
    assert record["maker_attributes"] == {"region": "EU868"}


def test_a_device_is_onboarded_once(node: Node, device_key: DeviceKey, store: SQLiteStore) -> None:
    """The same request again (a retry) returns the registered device, from the registry or, in a new node,
    the store; another owner, cell or attribute for a registered device is refused with a reason, not
    answered with the old record as if it had been applied."""
    request = onboard_request(node.config.name, device_key, maker_attributes={"region": "EU868"})
    first = node.onboard(request)
    assert node.onboard(request) == first
    assert Node(node.config, store, node.clock).onboard(request) == first
    other_owner = Wallet(bytes.fromhex("44" * 32))
    for changed in (
        onboard_request(
            node.config.name, device_key, owner=other_owner, maker_attributes={"region": "EU868"}
        ),
        onboard_request(
            node.config.name, device_key, cell="8c1f1d48945c1ff", maker_attributes={"region": "EU868"}
        ),
        onboard_request(node.config.name, device_key, maker_attributes={"region": "US915"}),
    ):
        with pytest.raises(OnboardingError) as refused:
            node.onboard(changed)
        assert refused.value.reason == "onboarding.already_registered"
    assert node.store.get_device(device_key.device_id) == first


def test_an_epoch_closed_in_its_own_process_is_the_same(tmp_path: Path, device_key: DeviceKey) -> None:
    """`depin serve` closes epochs in a child process over its own store connection: same rows."""
    from opendepin.config import MakerConfig, NetworkConfig
    from opendepin.node import EpochProcess
    from tests.conftest import MAKER

    config = NetworkConfig(makers=[MakerConfig(name="m", address=MAKER.address)])
    results = []
    for isolated in (False, True):
        data_dir = tmp_path / f"isolated-{isolated}"
        data_dir.mkdir()
        clock = SimulatedClock(config.epochs.genesis_ts)
        process = EpochProcess(data_dir) if isolated else None
        node = Node(config, SQLiteStore(data_dir / config.store.path), clock, process)
        node.onboard(onboard_request(config.name, device_key))
        _run_day(node, clock, device_key)
        clock.set(config.epochs.genesis_ts + 86_400 + config.epochs.lateness_seconds)
        results.append(node.close_epoch(0).manifest)
        assert node.next_epoch == 1 and node.audit_epoch(0).matches
        if process is not None:
            process.shutdown()
    assert canonical_json(results[0]) == canonical_json(results[1])


NODE_WITH_AN_EPOCH_PROCESS = """
import sys, time
from pathlib import Path
from opendepin.node import EpochProcess
process = EpochProcess(Path(sys.argv[1]))  # kept: a pool that is collected shuts its process down
print(process.pid(), flush=True)
time.sleep(120)
"""


def _process_state(pid: int) -> str:
    """A process's state letter from /proc (R, S, Z, …), or "gone"."""
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def test_the_epoch_process_ends_with_a_node_killed_by_sigkill(tmp_path: Path) -> None:
    """A node killed with SIGKILL cannot shut its epoch process down: the process ends by itself (it would
    otherwise wait for work forever, or close an epoch beside the restarted node)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    node = subprocess.Popen(
        [sys.executable, "-c", NODE_WITH_AN_EPOCH_PROCESS, str(tmp_path)], stdout=subprocess.PIPE, text=True
    )
    child = None
    try:
        assert node.stdout is not None
        child = int(node.stdout.readline())
        os.kill(child, 0)  # alive while the node is
        node.send_signal(signal.SIGKILL)
        node.wait(timeout=30)
        deadline = time.monotonic() + 30
        while (state := _process_state(child)) not in ("gone", "Z") and time.monotonic() < deadline:
            time.sleep(0.1)  # ended means gone, or a zombie when nothing reaps orphans here
        assert state in ("gone", "Z"), f"the orphaned epoch process {child} is still running ({state})"
    finally:
        node.kill()
        if child is not None and _process_state(child) not in ("gone", "Z"):
            os.kill(child, signal.SIGKILL)  # not left behind when the test fails


def test_an_epoch_closes_from_the_report_blocks_and_recomputes_from_the_rows(
    node: Node,
    clock: SimulatedClock,
    device_key: DeviceKey,
    store: SQLiteStore,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _day_due(node, clock, device_key)
    read_rows: list[int] = []
    rows = store.report_frame
    monkeypatch.setattr(store, "report_frame", lambda *a: read_rows.append(1) or rows(*a))
    record = node.close_epoch(0)
    assert read_rows == []  # the close read the blocks
    assert record.manifest["reports"] == 30
    stored, recomputed = node.verify_epoch(0)  # a recomputation reads the rows
    assert read_rows and canonical_json(stored) == canonical_json(recomputed)
    assert store._db.execute("SELECT COUNT(*) FROM report_blocks").fetchone()[0] == 0  # all below its end


def test_an_epoch_with_rows_outside_the_blocks_closes_from_the_rows(
    node: Node, clock: SimulatedClock, device_key: DeviceKey, store: SQLiteStore
) -> None:
    _day_due(node, clock, device_key)
    store._db.execute("DELETE FROM report_blocks")  # e.g. a store upgraded with this epoch's reports in it
    record = node.close_epoch(0)
    assert record.manifest["reports"] == 30 and record.manifest["rewarded_devices"] == 1
    stored, recomputed = node.verify_epoch(0)
    assert canonical_json(stored) == canonical_json(recomputed)
