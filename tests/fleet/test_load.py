"""`depin load`: a seed's devices are onboarded on a node and send signed reports at a set rate; every report
sent gets its verdict, the node stores exactly the accepted ones, and a second run with the same seed reuses
the devices with seqs above the first run's (nothing refused as a replay)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opendepin.cli import app
from opendepin.clock import SystemClock
from opendepin.config import MakerConfig, NetworkConfig
from opendepin.fleet.load import LoadFleet, LoadSpec, Pacer, maker_address, percentile, run_load
from opendepin.node import Node
from opendepin.server import BackgroundServer
from opendepin.store.sqlite import SQLiteStore
from opendepin.template import write_template

SEED = 5


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Node, str, Path]]:
    write_template(tmp_path, makers={"load": maker_address(SEED)})
    from opendepin.config import load_config

    config = load_config(tmp_path / "network.toml")
    store = SQLiteStore(tmp_path / "load.sqlite3")
    node = Node(config, store, SystemClock())
    with BackgroundServer(node) as server:
        yield node, server.url, tmp_path / "network.toml"
    store.close()


def test_pacer_and_percentiles() -> None:
    pacer = Pacer(rate=10.0, total=25, started=100.0)
    assert pacer.due(100.0) == [100.0]
    assert pacer.due(100.55) == [100.1, 100.2, 100.3, 100.4, 100.5]
    assert len(pacer.due(200.0)) == 19 and pacer.issued == 25 and pacer.due(300.0) == []
    assert percentile([], 0.5) is None
    assert percentile([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert percentile([float(i) for i in range(1, 101)], 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0


def test_each_device_is_sent_by_one_lane_only() -> None:
    """Two requests in flight with reports of one device could be stored in either order (the older then
    refused as a replay): each connection sends its own share of the devices."""
    config = NetworkConfig(makers=[MakerConfig(name="load", address=maker_address(SEED))])
    fleet = LoadFleet(LoadSpec(devices=10, rate=1.0, duration=1.0, seed=SEED), config)
    lanes = [{fleet.next_device(lane, 3).index for _ in range(30)} for lane in range(3)]
    assert sorted(len(lane) for lane in lanes) == [3, 3, 4]
    assert set.union(*lanes) == {d.index for d in fleet.senders} and not (
        lanes[0] & lanes[1] | lanes[1] & lanes[2]
    )
    device = fleet.senders[0]
    first, second = fleet.sign(device, 100), fleet.sign(device, 100)
    assert first[0] != second[0]  # a fresh seq each time


def test_every_report_sent_is_answered_and_stored_once(served: tuple[Node, str, Path]) -> None:
    node, url, _ = served
    spec = LoadSpec(devices=20, rate=200.0, duration=1.5, node_url=url, seed=SEED, batch=25, connections=3)
    lines: list[str] = []
    stats = run_load(spec, node.config, lambda s: lines.append(s.progress()), every=0.5)
    assert stats.sent == 300 and stats.accepted == 300 and not stats.refused and not stats.errors
    assert len(stats.latencies) == 300 and all(value >= 0 for value in stats.latencies)
    assert len(node.store.devices()) == 20
    assert node.store.count_reports(0, 2**40) == 300
    assert lines and "accepted 300" in lines[-1]
    again = run_load(spec, node.config)  # the same seed: the same devices, seqs above the first run's
    assert again.accepted == 300 and not again.refused
    assert len(node.store.devices()) == 20 and node.store.count_reports(0, 2**40) == 600
    summary = again.summary()
    assert summary["sent"] == 300 and summary["latency_ms"]["p50"] is not None


def test_the_command_prints_progress_and_a_json_summary(served: tuple[Node, str, Path]) -> None:
    node, url, network = served
    args = ["load", "--network", str(network), "--node", url, "--devices", "4", "--rate", "40"]
    result = CliRunner().invoke(app, [*args, "--duration", "1", "--seed", str(SEED), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{") :])
    assert summary["sent"] == 40 and summary["accepted"] == 40 and summary["refused"] == {}
    assert node.store.count_reports(0, 2**40) == 40
    printed = CliRunner().invoke(app, ["load", "--print-maker", "--seed", str(SEED)])
    assert printed.stdout.strip() == maker_address(SEED)


def test_a_maker_the_network_does_not_list_is_named(tmp_path: Path) -> None:
    config = NetworkConfig(makers=[MakerConfig(name="other", address=maker_address(SEED + 1))])
    store = SQLiteStore(tmp_path / "s.sqlite3")
    node = Node(config, store, SystemClock())
    try:
        with BackgroundServer(node) as server:
            network = tmp_path / "network.toml"
            write_template(tmp_path, makers={"other": maker_address(SEED + 1)})
            args = ["load", "--network", str(network), "--node", server.url, "--seed", str(SEED)]
            result = CliRunner().invoke(app, [*args, "--devices", "2", "--duration", "1"])
    finally:
        store.close()
    assert result.exit_code == 2
    assert maker_address(SEED) in " ".join(result.output.split())
