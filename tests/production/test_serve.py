"""`depin serve` as a service: settings remembered by the data dir, no silent backlog of epochs, /metrics
in Prometheus text, and a fresh network served on wall-clock time (a real process)."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opendepin.api.routes.metrics import render_metrics
from opendepin.clock import SimulatedClock
from opendepin.config import NetworkConfig
from opendepin.identity.keys import DeviceKey
from opendepin.ingest.metrics import metrics_of
from opendepin.node import Node
from opendepin.reports.envelope import sign_report
from opendepin.server import BacklogRefused, ServeSettings, check_backlog, due_epochs
from opendepin.store.sqlite import SQLiteStore
from opendepin.template import write_template
from tests.conftest import onboard_request

DAY = 86_400
HEARTBEAT = {"lat": 52.52, "lon": 13.405}
SAMPLE = re.compile(r'^([a-z_]+)(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? (-?[0-9.e+-]+)$')


def test_settings_remember_the_flags_given(tmp_path: Path) -> None:
    first = ServeSettings.load(tmp_path).merged(
        {"chain": "rpc", "rpc_url": "http://10.0.0.5:8545", "port": None}
    )
    first.save(tmp_path)
    again = ServeSettings.load(tmp_path).merged({"port": 9000, "chain": None})
    assert (again.chain, again.rpc_url, again.port) == ("rpc", "http://10.0.0.5:8545", 9000)
    assert ServeSettings.load(tmp_path / "missing") == ServeSettings()


def test_settings_are_checked_before_they_are_remembered(tmp_path: Path) -> None:
    """Each wrong flag is named, all at once; a hand-edited file's values of the wrong type fall back to the
    defaults; a file that is not JSON is an error saying how to recover."""
    bad = ServeSettings().merged(
        {"bus": "natz", "chain": "foo", "port": 0, "workers": -1, "mqtt": "h:xx", "mqtt_prefix": "a/#"}
    )
    assert set(bad.problems()) == {"bus", "chain", "port", "workers", "mqtt", "mqtt_prefix"}
    for prefix in ("", "/a", "a/", "a+b"):
        assert set(ServeSettings().merged({"mqtt_prefix": prefix}).problems()) == {"mqtt_prefix"}
    assert "--bus must be direct or nats, not 'natz'" in bad.problems()["bus"]
    assert ServeSettings().merged({"mqtt": "127.0.0.1", "chain": "rpc", "workers": 0}).problems() == {}
    (tmp_path / "serve.json").write_text(json.dumps({"port": "8081", "bus": "nats", "rpc_url": 5}))
    loaded = ServeSettings.load(tmp_path)
    assert (loaded.port, loaded.bus, loaded.rpc_url) == (8080, "nats", None)
    (tmp_path / "serve.json").write_text("[1")
    with pytest.raises(ValueError, match="remove it to start with the defaults"):
        ServeSettings.load(tmp_path)


def _serve(data_dir: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opendepin", "serve", "--data-dir", str(data_dir), *flags],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_start_that_fails_remembers_nothing(tmp_path: Path) -> None:
    """A mistyped flag, a port in use or a broker that is not there: a one-line error, and the data dir
    keeps the settings of the last start that worked (not the failed ones, which would fail every later
    start); a bad value already remembered is named as such."""
    data_dir = tmp_path / "net"
    write_template(data_dir)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = str(taken.getsockname()[1])
    try:
        for flags, message in [
            (("--bus", "natz"), "--bus must be direct or nats, not 'natz'"),
            (("--port", port), f"cannot listen on 127.0.0.1:{port}"),
            (
                ("--port", str(_free_port()), "--mqtt", f"127.0.0.1:{port}x"),
                "--mqtt must be HOST or HOST:PORT",
            ),
            (("--port", str(_free_port()), "--chain", "none", "--mqtt", "127.0.0.1:1"), "no MQTT broker at"),
        ]:
            done = _serve(data_dir, *flags)
            assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
            assert message in " ".join(done.stderr.split()), done.stderr
            assert not (data_dir / "serve.json").exists()
    finally:
        taken.close()
    (data_dir / "serve.json").write_text(json.dumps({"bus": "natz"}))
    done = _serve(data_dir)
    assert "(remembered in" in done.stderr and "give the flag to replace it" in " ".join(done.stderr.split())


def test_a_backlog_closes_only_when_asked(store: SQLiteStore, config: NetworkConfig) -> None:
    clock = SimulatedClock(config.epochs.genesis_ts + 5 * DAY + config.epochs.lateness_seconds)
    node = Node(config, store, clock)
    assert due_epochs(node) == [0, 1, 2, 3, 4]
    with pytest.raises(BacklogRefused, match=r"5 epochs \(0..4\).*--catch-up"):
        check_backlog(node, catch_up=False)
    assert check_backlog(node, catch_up=True) == [0, 1, 2, 3, 4]
    assert [r.number for r in node.close_due_epochs()] == [0, 1, 2, 3, 4]
    clock.advance(DAY)
    assert check_backlog(node, catch_up=False) == [5]  # one epoch that ended while the node was down


def test_metrics_are_prometheus_text(store: SQLiteStore, config: NetworkConfig) -> None:
    clock = SimulatedClock(config.epochs.genesis_ts + 3600)
    node = Node(config, store, clock)
    counters = metrics_of(node)
    assert metrics_of(node) is counters
    key = DeviceKey("ed25519", b"\x61" * 32)
    node.onboard(onboard_request(config.name, key))
    wires = [sign_report(key, "wireless.heartbeat", clock.now(), seq, HEARTBEAT).to_wire() for seq in (1, 2)]
    results = node.ingest([*wires, wires[0], b"junk"], source="http:127.0.0.1")
    accepted = sum(r.accepted for r in results)
    text = render_metrics(node, bus_pending=7)
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert line.split()[1] in ("HELP", "TYPE")
            continue
        match = SAMPLE.match(line)
        assert match, line
        values[line.rsplit(" ", 1)[0]] = float(match.group(4))
    assert values['depin_reports_accepted_total{source="http"}'] == accepted
    refused = {r.reason for r in results if not r.accepted}
    for reason in refused:
        assert values[f'depin_reports_rejected_total{{reason="{reason}"}}'] >= 1
    assert values["depin_epoch_last_closed"] == -1 and values["depin_epoch_last_settled"] == -1
    assert values["depin_bus_pending_messages"] == 7
    assert values["depin_ingest_rate_per_second"] == pytest.approx(accepted / 60)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return bytes(answer.read())


def test_a_fresh_network_serves_with_no_backlog_and_settles_on_its_chain(tmp_path: Path) -> None:
    data = tmp_path / "net"
    write_template(data)
    port = _free_port()
    code = (
        "import logging, sys; from pathlib import Path; logging.basicConfig(level=logging.INFO);"
        "from opendepin.server import ServeSettings, serve_node;"
        f"serve_node(Path({str(data)!r}), ServeSettings(port={port}, settle_interval=0.5))"
    )
    log = (tmp_path / "serve.log").open("wb")
    env = {"DEPIN_KEYSTORE_FAST_KDF": "1", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                epochs = json.loads(_get(f"http://127.0.0.1:{port}/v1/epochs"))
                break
            except OSError:
                assert process.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "depin serve did not answer"
                time.sleep(0.3)
        assert (epochs.get("epochs", epochs) if isinstance(epochs, dict) else epochs) == []
        text = _get(f"http://127.0.0.1:{port}/metrics").decode()
        assert "depin_epoch_last_closed -1" in text
        # a client's address is its connection's: an X-Forwarded-For header (which uvicorn trusts from
        # 127.0.0.1 by default) names no other rate-limit bucket and charges nobody else's
        junk = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/reports",
            data=bytes([0x81, 0x45]) + b"\x00junk",  # a CBOR array of one byte string: a report that is junk
            headers={"Content-Type": "application/cbor", "X-Forwarded-For": "203.0.113.7"},
        )
        with urllib.request.urlopen(junk, timeout=10) as answer:
            (result,) = json.loads(answer.read())["results"]
        reason = result["status"]
        while "settling on the embedded chain" not in (tmp_path / "serve.log").read_text():
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.3)
        # a service manager's stop (SIGTERM) runs the node's orderly stop: uvicorn raised the signal again
        # after its own shutdown and the process died there, its clean-up never run (no chain snapshot)
        process.terminate()
        assert process.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
        assert (data / "chain" / "embedded-snapshot.bin").exists()
        assert "Traceback" not in (tmp_path / "serve.log").read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    saved = json.loads((data / "serve.json").read_text())
    assert saved["port"] == port
    store = SQLiteStore(data / "depin.sqlite")
    assert [sample.source for sample in store.rejection_samples(reason)] == ["http:127.0.0.1"]
    store.close()
    genesis = datetime.fromisoformat(
        re.search(r"genesis = (\S+)", (data / "network.toml").read_text()).group(1)  # type: ignore[union-attr]
    )
    assert (datetime.now(UTC) - genesis).total_seconds() < 600
